import Engine
import Tensor

// Input: a GGUF image. Invariants: parsing never crashes or over-reads (ASan); every typed accessor
// either answers or throws; every tensor the parser accepts lies inside the file (its first and last
// byte are read, and its first row dequantized when the type is supported); ModelConfig and
// TokenizerLoader either succeed or throw; a tokenizer that loads encodes only in-range ids and decodes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzGGUF(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let file = try? GGUFFile(bytes: bytes) else { return 0 }
    // NOTE: dataOffset may lie past the end of a file without tensors (headerBytes clamps it).
    guard file.alignment > 0, file.tensors.isEmpty || file.dataOffset <= file.fileSize else { fatalError("GGUF: bad data offset / alignment") }
    for key in file.metadataKeys {
        _ = try? file.optionalString(key)
        _ = try? file.optionalInt(key)
        _ = try? file.optionalFloat(key)
        _ = try? file.optionalBool(key)
        _ = try? file.optionalStrings(key)
        _ = try? file.optionalFloats(key)
        _ = try? file.optionalInts(key)
        _ = try? file.optionalUniformInt(key)
        _ = try? file.arrayCount(key)
    }
    var sink: UInt8 = 0
    var row = [Float](repeating: 0, count: 4096)
    for t in file.tensors {
        guard file.tensor(t.name) != nil else { fatalError("GGUF: tensor index misses \(t.name)") }
        let n = t.byteCount
        guard n >= 0, file.dataOffset + t.offset + n <= file.fileSize else { fatalError("GGUF: tensor \(t.name) out of bounds") }
        guard n > 0 else { continue }
        let p = file.data(of: t)
        sink ^= p.load(as: UInt8.self) ^ p.load(fromByteOffset: n - 1, as: UInt8.self)
        if t.type.isSupported, t.rowLength <= row.count {
            row.withUnsafeMutableBufferPointer { Dequant.row(t.type, p, $0.baseAddress!, count: t.rowLength) }
        }
    }
    blackHole(sink)
    _ = try? ModelConfig(file: file)
    if let template = try? file.optionalString("tokenizer.chat_template") { _ = ChatTemplate.detect(template) }
    if let tokenizer = try? TokenizerLoader.load(from: file) {
        for text in ["Hello world", " <s>x</s> \u{1F600}é\t\n 12345", ""] {
            for parseSpecial in [false, true] {
                let ids = tokenizer.encode(text, addSpecial: true, parseSpecial: parseSpecial)
                guard ids.allSatisfy({ $0 >= 0 && $0 < tokenizer.vocabularySize }) else { fatalError("GGUF: tokenizer id out of range") }
                _ = tokenizer.decode(ids, removeSpecial: true, special: parseSpecial)
                var stream = StreamingDetokenizer(tokenizer: tokenizer)
                for id in ids { _ = stream.append(id) }
                _ = stream.finish()
            }
        }
        _ = tokenizer.tokenText(0)
        _ = tokenizer.pieceBytes(tokenizer.vocabularySize - 1, special: true)
    }
    return 0
}

@inline(never) func blackHole(_ x: UInt8) { if x == 0x5A && Int.random(in: 0..<2) == 3 { print(x) } }
