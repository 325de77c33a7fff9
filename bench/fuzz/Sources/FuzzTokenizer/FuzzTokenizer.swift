import Engine
import Foundation
import Tensor

// Input: any bytes, used as text (invalid UTF-8 is repaired to U+FFFD first, as the server's JSON
// decoding does). Tokenizers: Gemma 3's SPM vocabulary loaded from the real GGUF, and MiniLM's WordPiece.
// Invariants (Gemma; byte-exact, no Unicode-equivalence shortcuts):
// - every id is in 0 ..< vocabularySize; addSpecial prepends BOS exactly when addBOS;
// - decode(encode(s)) == s with "▁" read as " " (the one documented exception), with and without
//   parse_special (special = true renders parsed control tokens back as their text);
// - StreamingDetokenizer's concatenated output == decode(ids, removeSpecial: false) (documented for Gemma).
// WordPiece: ids in range, [CLS] first, [SEP] last, at most maxLength ids.
let root = ProcessInfo.processInfo.environment["FUZZ_REPO_ROOT"] ?? FileManager.default.currentDirectoryPath

let gemma: any Tokenizer = {
    let path = root + "/models/gemma-3-270m-q4_k_m.gguf"
    do { return try TokenizerLoader.load(from: try GGUFFile(path: path)) } catch {
        fatalError("cannot load \(path): \(error) (set FUZZ_REPO_ROOT; `make models` installs it)")
    }
}()

let wordPiece: WordPieceTokenizer = {
    let dir = root + "/models/all-MiniLM-L6-v2"
    do { return try WordPieceTokenizer.load(directory: dir, maxLength: 256) } catch {
        fatalError("cannot load \(dir): \(error)")
    }
}()

/// "▁" (U+2581, E2 96 81) -> " ", byte-wise.
func spacesForMetaspace(_ s: String) -> [UInt8] {
    let b = Array(s.utf8)
    var out: [UInt8] = []
    out.reserveCapacity(b.count)
    var i = 0
    while i < b.count {
        if i + 2 < b.count, b[i] == 0xE2, b[i + 1] == 0x96, b[i + 2] == 0x81 { out.append(0x20); i += 3 } else { out.append(b[i]); i += 1 }
    }
    return out
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzTokenizer(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let t = gemma
    let expected = spacesForMetaspace(text)

    let plain = t.encode(text, addSpecial: false, parseSpecial: false)
    guard plain.allSatisfy({ $0 >= 0 && $0 < t.vocabularySize }) else { fatalError("tokenizer: id out of range") }
    let decoded = t.decode(plain, removeSpecial: false, special: false)
    guard Array(decoded.utf8) == expected else {
        fatalError("tokenizer: decode(encode(s)) != s for \(text.debugDescription): got \(decoded.debugDescription) ids \(plain)")
    }
    var stream = StreamingDetokenizer(tokenizer: t)
    var streamed: [UInt8] = []
    for id in plain { streamed += Array(stream.append(id).utf8) }
    streamed += Array(stream.finish().utf8)
    guard streamed == Array(decoded.utf8) else { fatalError("tokenizer: streaming output differs from decode for \(text.debugDescription)") }

    let withBOS = t.encode(text, addSpecial: true, parseSpecial: false)
    if t.addBOS, let bos = t.bosID {
        guard withBOS.first == bos, Array(withBOS.dropFirst()) == plain else { fatalError("tokenizer: addSpecial is not BOS + ids") }
    }
    guard t.decode(withBOS, removeSpecial: true, special: false) == decoded else { fatalError("tokenizer: BOS not removed") }

    let special = t.encode(text, addSpecial: false, parseSpecial: true)
    guard special.allSatisfy({ $0 >= 0 && $0 < t.vocabularySize }) else { fatalError("tokenizer: id out of range (parse_special)") }
    let decodedSpecial = t.decode(special, removeSpecial: false, special: true)
    guard Array(decodedSpecial.utf8) == expected else {
        fatalError("tokenizer: parse_special round trip failed for \(text.debugDescription): got \(decodedSpecial.debugDescription)")
    }

    let wp = wordPiece.encode(text)
    guard wp.count >= 2, wp.count <= wordPiece.maxLength, wp.first == wordPiece.clsID, wp.last == wordPiece.sepID,
          wp.allSatisfy({ $0 >= 0 && Int($0) < wordPiece.tokens.count }) else { fatalError("wordpiece: bad ids \(wp)") }
    return 0
}
