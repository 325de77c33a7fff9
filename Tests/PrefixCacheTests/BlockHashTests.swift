import Testing
@testable import PrefixCache

@Suite("Block hashing: reproducible, chained, domain-separated")
struct BlockHashTests {
    let hasher = BlockHasher(model: ModelFingerprint(digesting: "golden-model"), blockSize: 16)

    /// Golden values computed independently from the documented byte layout (Python hashlib), so any
    /// process or language that follows the format reproduces them.
    @Test func goldenValuesMatchTheDocumentedEncoding() {
        #expect(ModelFingerprint(digesting: "golden-model").bytes == BlockHash(bytes: hexBytes(
            "2c68f21a6e2c7fab9ec496809b43ef8b613e586b0ebb0b90e69aba3748f51812"))!.bytes)
        #expect(hasher.root.hex == "be41de05b32e7b64368d07f491c836799252324d269e6ddd80d4dd32b33f48df")
        let b0 = hasher.hash(parent: hasher.root, tokens: run(0, 16)[...], extraKeys: [])
        #expect(b0.hex == "add4f3f969814ebf6abd7fb12f4d234525d6ff6af8254223b68badc4dada2da6")
        let b1 = hasher.hash(
            parent: b0, tokens: run(1000, 16)[...], extraKeys: [ExtraKey(kind: .salt, value: Array("tenant-salt".utf8))])
        #expect(b1.hex == "935d228b143f29a4cdb09f648f2824aaa4a4966356d75ba83b23350cccdd0c80")
    }

    @Test func sameInputsGiveSameHashesAcrossHasherInstances() {
        let other = BlockHasher(model: ModelFingerprint(digesting: "golden-model"), blockSize: 16)
        let keys = BlockExtraKeys(tenant: "t", salt: "s", lora: LoRAKey(name: "a", digest: [1, 2]))
        #expect(hasher.blockHashes(of: run(0, 64), keys: keys) == other.blockHashes(of: run(0, 64), keys: keys))
        #expect(hasher.root == other.root)
    }

    @Test func bytesRoundTripAndHexIsSha256Style() throws {
        let hash = hasher.hash(parent: hasher.root, tokens: run(0, 16)[...], extraKeys: [])
        #expect(try #require(BlockHash(bytes: hash.bytes)) == hash)
        #expect(BlockHash(bytes: [1, 2, 3]) == nil)
        #expect(hash.hex.count == 64 && hash.description.count == 16)
    }

    @Test(arguments: 0..<16)
    func changingAnyOneTokenChangesTheHash(position: Int) {
        var tokens = run(0, 16)
        let base = hasher.hash(parent: hasher.root, tokens: tokens[...], extraKeys: [])
        tokens[position] += 1
        #expect(hasher.hash(parent: hasher.root, tokens: tokens[...], extraKeys: []) != base)
    }

    @Test func aChangeInAnEarlierBlockChangesEveryLaterHash() {
        var tokens = run(0, 64)
        let before = hasher.blockHashes(of: tokens, keys: .none)
        tokens[3] = 99_999
        let after = hasher.blockHashes(of: tokens, keys: .none)
        for index in 0..<4 { #expect(before[index] != after[index]) }
    }

    @Test func sameBlockAtAnotherPositionHashesDifferently() {
        // Identical 16 tokens as block 0 and as block 1: chaining encodes the absolute position.
        let tokens = run(0, 16) + run(0, 16)
        let hashes = hasher.blockHashes(of: tokens, keys: .none)
        #expect(hashes[0] != hashes[1])
    }

    @Test func modelFingerprintAndBlockSizeSeedTheRoot() {
        let otherModel = BlockHasher(model: ModelFingerprint(digesting: "other-model"), blockSize: 16)
        let otherSize = BlockHasher(model: ModelFingerprint(digesting: "golden-model"), blockSize: 32)
        #expect(Set([hasher.root, otherModel.root, otherSize.root]).count == 3)
        let tokens = run(0, 32)
        #expect(hasher.blockHashes(of: tokens, keys: .none)[0] != otherModel.blockHashes(of: tokens, keys: .none)[0])
    }

    @Test func tokenBoundariesAreUnambiguous() {
        // 16 tokens vs 15 tokens whose encodings could otherwise share a byte prefix.
        let full = hasher.hash(parent: hasher.root, tokens: run(0, 16)[...], extraKeys: [])
        let short = hasher.hash(parent: hasher.root, tokens: run(0, 15)[...], extraKeys: [])
        #expect(full != short)
        // A large token id is not two small ones: u32 each, with the count in front.
        let a = hasher.hash(parent: hasher.root, tokens: [0x0001_0000][...], extraKeys: [])
        let b = hasher.hash(parent: hasher.root, tokens: [0, 1][...], extraKeys: [])
        #expect(a != b)
    }

    /// The vLLM defect: untagged extra keys let a LoRA named X collide with cache_salt X.
    @Test func sameValueInDifferentKindsNeverCollides() {
        let value = Array("X".utf8)
        let hashes = ExtraKey.Kind.allCases.map { kind in
            hasher.hash(parent: hasher.root, tokens: run(0, 16)[...], extraKeys: [ExtraKey(kind: kind, value: value)])
        }
        #expect(Set(hashes).count == ExtraKey.Kind.allCases.count)
        let lora = BlockExtraKeys(lora: LoRAKey(name: "X", digest: []))
        let salt = BlockExtraKeys(salt: CacheSalt(bytes: Array("X".utf8)))
        let image = BlockExtraKeys(images: [ImageSpan(contentHash: value, start: 0, length: 4)])
        let all = [lora, salt, image, .none].map { hasher.blockHashes(of: run(0, 16), keys: $0)[0] }
        #expect(Set(all).count == 4)
    }

    @Test func lengthPrefixesPreventConcatenationAmbiguity() {
        let ab_c = BlockExtraKeys(tenant: "ab", salt: "c")
        let a_bc = BlockExtraKeys(tenant: "a", salt: "bc")
        let abc = BlockExtraKeys(tenant: "abc")
        let hashes = [ab_c, a_bc, abc].map { hasher.blockHashes(of: run(0, 16), keys: $0)[0] }
        #expect(Set(hashes).count == 3)
        let loraSplit1 = BlockExtraKeys(lora: LoRAKey(name: "ab", digest: Array("c".utf8)))
        let loraSplit2 = BlockExtraKeys(lora: LoRAKey(name: "a", digest: Array("bc".utf8)))
        #expect(hasher.blockHashes(of: run(0, 16), keys: loraSplit1) != hasher.blockHashes(of: run(0, 16), keys: loraSplit2))
        // Two keys vs one key holding both encodings back to back.
        let twoKeys = [ExtraKey(kind: .image, value: [1]), ExtraKey(kind: .image, value: [2])]
        let oneKey = [ExtraKey(kind: .image, value: [1, 2])]
        #expect(hasher.hash(parent: hasher.root, tokens: run(0, 16)[...], extraKeys: twoKeys)
            != hasher.hash(parent: hasher.root, tokens: run(0, 16)[...], extraKeys: oneKey))
    }

    @Test(arguments: [
        BlockExtraKeys(salt: "s1"), BlockExtraKeys(salt: "s2"), BlockExtraKeys(tenant: "s1"), BlockExtraKeys(tenant: "t", salt: "s1"),
        BlockExtraKeys(lora: LoRAKey(name: "l", digest: [1])), BlockExtraKeys(lora: LoRAKey(name: "l", digest: [2])),
        BlockExtraKeys(images: [ImageSpan(contentHash: [9], start: 2, length: 3)]),
        BlockExtraKeys(images: [ImageSpan(contentHash: [9], start: 3, length: 3)]),
        BlockExtraKeys(images: [ImageSpan(contentHash: [8], start: 2, length: 3)]),
    ])
    func everyKeyChangesTheFirstBlockHash(keys: BlockExtraKeys) {
        let plain = hasher.blockHashes(of: run(0, 16), keys: .none)[0]
        #expect(hasher.blockHashes(of: run(0, 16), keys: keys)[0] != plain)
    }

    @Test func distinctKeySetsNeverCollide() {
        let keySets: [BlockExtraKeys] = [
            .none, BlockExtraKeys(salt: "s1"), BlockExtraKeys(salt: "s2"), BlockExtraKeys(tenant: "s1"),
            BlockExtraKeys(tenant: "t", salt: "s1"), BlockExtraKeys(lora: LoRAKey(name: "l", digest: [1])),
            BlockExtraKeys(salt: "s1", lora: LoRAKey(name: "l", digest: [1])),
            BlockExtraKeys(images: [ImageSpan(contentHash: [9], start: 2, length: 3)]),
            BlockExtraKeys(images: [ImageSpan(contentHash: [9], start: 2, length: 4)]),
        ]
        let hashes = keySets.map { hasher.blockHashes(of: run(0, 16), keys: $0)[0] }
        #expect(Set(hashes).count == keySets.count)
    }

    @Test func extraKeyOrderOfConstructionDoesNotMatter() {
        let one = BlockExtraKeys(images: [
            ImageSpan(contentHash: [1], start: 0, length: 2), ImageSpan(contentHash: [2], start: 4, length: 2),
        ])
        let two = BlockExtraKeys(images: [
            ImageSpan(contentHash: [2], start: 4, length: 2), ImageSpan(contentHash: [1], start: 0, length: 2),
        ])
        #expect(hasher.blockHashes(of: run(0, 16), keys: one) == hasher.blockHashes(of: run(0, 16), keys: two))
    }

    @Test func partialBlocksAreNeverHashed() {
        #expect(hasher.blockHashes(of: run(0, 15), keys: .none).isEmpty)
        #expect(hasher.blockHashes(of: run(0, 47), keys: .none).count == 2)
    }
}

func hexBytes(_ hex: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var chars = Array(hex.utf8)[...]
    while chars.count >= 2 {
        bytes.append(UInt8(String(decoding: chars.prefix(2), as: UTF8.self), radix: 16)!)
        chars = chars.dropFirst(2)
    }
    return bytes
}
