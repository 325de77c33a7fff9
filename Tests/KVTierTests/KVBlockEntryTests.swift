import KVTier
import PrefixCache
import Testing

@Suite("KV block entries")
struct KVBlockEntryTests {
    let hash = Fixture.hashes(1)[0]

    func verify(_ entry: [UInt8], hash: BlockHash? = nil, layout: KVBlockLayout = Fixture.layout,
                secret: [UInt8]? = nil) -> Result<Range<Int>, KVBlockEntry.Rejection> {
        KVBlockEntry.verify(entry, hash: hash ?? self.hash, layout: layout, secret: secret)
    }

    @Test func roundTripGivesThePayloadBack() throws {
        let entry = Fixture.entry(3, hash: hash)
        #expect(entry.count == KVBlockEntry.size(Fixture.layout))
        let range = try verify(entry).get()
        #expect(Array(entry[range]) == Fixture.payload(3))
    }

    @Test func everyFlippedByteIsRefused() {
        let entry = Fixture.entry(1, hash: hash)
        // Every byte of the header, some of the payload, every byte of the tag.
        let positions = Array(0..<104) + stride(from: 104, to: entry.count - 32, by: 17) + Array((entry.count - 32)..<entry.count)
        for i in positions {
            var bad = entry
            bad[i] ^= 0x01
            guard case .failure = verify(bad) else {
                Issue.record("a flipped bit at byte \(i) was accepted")
                return
            }
        }
    }

    @Test func truncatedOrExtendedEntriesAreRefused() {
        let entry = Fixture.entry(1, hash: hash)
        for cut in [0, 1, 103, 104, entry.count - 33, entry.count - 1] {
            #expect(verify(Array(entry.prefix(cut))) == .failure(.length))
        }
        #expect(verify(entry + [0]) == .failure(.length))
    }

    @Test func anEntryFiledUnderAnotherHashIsRefused() {
        let other = Fixture.hashes(2, seed: "other")[1]
        #expect(verify(Fixture.entry(1, hash: other)) == .failure(.hash))
    }

    @Test func anotherModelsOrTypesEntryIsRefused() {
        let otherModel = KVBlockLayout(model: ModelFingerprint(digesting: "another model"), dtype: "f16",
                                       layerCount: 2, kvDim: 8, blockSize: 4, blockBytes: Fixture.layout.blockBytes)
        #expect(verify(Fixture.entry(1, hash: hash, layout: otherModel)) == .failure(.model))
        let otherType = KVBlockLayout(model: Fixture.model, dtype: "f32", layerCount: 2, kvDim: 8, blockSize: 4,
                                      blockBytes: Fixture.layout.blockBytes)
        #expect(verify(Fixture.entry(1, hash: hash, layout: otherType)) == .failure(.layout))
        let otherShape = KVBlockLayout(model: Fixture.model, dtype: "f16", layerCount: 4, kvDim: 4, blockSize: 4,
                                       blockBytes: Fixture.layout.blockBytes)
        #expect(verify(Fixture.entry(1, hash: hash, layout: otherShape)) == .failure(.layout))
    }

    @Test func aForgedEntryNeedsTheSecret() throws {
        let secret = Array("tier secret".utf8)
        // A forger without the secret can compute a plain checksum, which a server with a secret refuses.
        let forged = Fixture.entry(2, hash: hash)
        #expect(verify(forged, secret: secret) == .failure(.tag))
        #expect(verify(Fixture.entry(2, hash: hash, secret: Array("guess".utf8)), secret: secret) == .failure(.tag))
        let genuine = Fixture.entry(2, hash: hash, secret: secret)
        let range = try verify(genuine, secret: secret).get()
        #expect(Array(genuine[range]) == Fixture.payload(2))
        // And a server without the secret refuses HMAC-tagged entries rather than misreading them.
        #expect(verify(genuine) == .failure(.tag))
    }

    @Test func namespaceNamesModelTypeAndBlockSize() {
        let ns = Fixture.layout.namespace
        #expect(ns.hasSuffix("-f16-b4"))
        #expect(ns.count == 16 + "-f16-b4".count)
        let other = KVBlockLayout(model: ModelFingerprint(digesting: "x"), dtype: "f16", layerCount: 2, kvDim: 8,
                                  blockSize: 4, blockBytes: Fixture.layout.blockBytes)
        #expect(other.namespace != ns)
    }
}
