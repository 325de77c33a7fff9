import Foundation
import Gateway
import Testing

/// The pure parts of the vision fallback: which addresses may be fetched from, data URL decoding, the
/// description cache's key, LRU and TTL.
@Suite("Vision inputs")
struct VisionInputTests {
    /// Expected classes from the IANA special-purpose registries (IPv4 / IPv6) and RFC 4291 / 6052 / 3056.
    static let addresses: [(String, Bool)] = [
        ("8.8.8.8", true), ("1.1.1.1", true), ("93.184.216.34", true), ("172.32.0.1", true), ("100.128.0.1", true),
        ("192.169.0.1", true), ("223.255.255.255", true),
        ("0.0.0.0", false), ("0.1.2.3", false), ("127.0.0.1", false), ("127.255.255.254", false), ("10.1.2.3", false),
        ("172.16.0.1", false), ("172.31.255.255", false), ("192.168.1.1", false), ("169.254.169.254", false),
        ("100.64.0.1", false), ("100.127.255.255", false), ("224.0.0.1", false), ("239.255.255.250", false),
        ("255.255.255.255", false), ("240.0.0.1", false), ("192.0.0.8", false), ("198.18.0.1", false),
        ("192.0.2.1", false), ("203.0.113.9", false),
        ("2606:4700:4700::1111", true), ("2001:4860:4860::8888", true), ("::ffff:8.8.8.8", true),
        ("64:ff9b::808:808", true), ("2002:808:808::1", true),
        ("::", false), ("::1", false), ("::ffff:127.0.0.1", false), ("::ffff:7f00:1", false),
        ("::ffff:169.254.169.254", false), ("::ffff:0.0.0.0", false), ("::ffff:10.0.0.1", false),
        ("::127.0.0.1", false), ("::8.8.8.8", false), ("64:ff9b::7f00:1", false), ("64:ff9b::a9fe:a9fe", false),
        ("64:ff9b:1::1", false), ("2002:7f00:1::", false), ("2002:c0a8:101::1", false), ("fe80::1", false),
        ("febf::1", false), ("fec0::1", false), ("fc00::1", false), ("fd12:3456::1", false), ("ff02::1", false),
        ("ff0e::1", false), ("2001:db8::1", false), ("2001::1", false), ("100::1", false), ("4000::1", false),
        ("0:0:0:0:0:0:0:1", false), ("0000:0000:0000:0000:0000:ffff:7f00:0001", false),
    ]

    @Test func addressTable() {
        for (text, global) in Self.addresses {
            guard let verdict = AddressClass.of(text) else {
                Issue.record("\(text) did not parse")
                continue
            }
            #expect(verdict.isGlobal == global, "\(text): \(verdict)")
        }
    }

    @Test func nonAddressesAreNotParsedAsAddresses() {
        // Shorthand IPv4 and zone ids are not addresses here: as names they are resolved and the results checked.
        for text in ["127.1", "2130706433", "0x7f.0.0.1", "fe80::1%eth0", "localhost", "", "1.2.3.4.5", "::ffff:1.2.3"] {
            #expect(AddressClass.of(text) == nil, "\(text)")
        }
        #expect(AddressClass.of(bytes: [1, 2, 3]) != .global)
    }

    static let png: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 7]

    @Test func dataURLDecodes() throws {
        let b64 = Data(Self.png).base64EncodedString()
        let parsed = try DataURL.parse("data:image/png;base64,\(b64)", maxBytes: 1024)
        #expect(parsed == DataURL(mediaType: "image/png", bytes: Self.png))
        let upper = try DataURL.parse("DATA:Image/JPEG;name=a.jpg;BASE64,\(b64)", maxBytes: Self.png.count)
        #expect(upper.mediaType == "image/jpeg")
        #expect(upper.bytes == Self.png)
        #expect(DataURL.encode(mediaType: "image/png", bytes: Self.png) == "data:image/png;base64,\(b64)")
    }

    @Test func dataURLRefusals() {
        let b64 = Data(Self.png).base64EncodedString()
        let cases: [(String, String)] = [
            ("data:image/png;base64,\(b64)", "larger than the limit"),          // limit below the size
            ("data:text/plain;base64,\(b64)", "must be image/*"),
            ("data:;base64,\(b64)", "must be image/*"),
            ("data:image/;base64,\(b64)", "must be image/*"),
            ("data:image/png,rawbytes", "base64-encoded"),
            ("data:image/png;base64", "without a ','"),
            ("data:image/png;base64,abc", "not a multiple of 4"),
            ("data:image/png;base64,ab!=", "not valid base64"),
            ("data:image/png;base64,", "empty"),
            ("http://x/y.png", "not a data: URL"),
        ]
        for (url, fragment) in cases {
            do {
                _ = try DataURL.parse(url, maxBytes: Self.png.count - 1 + (fragment == "larger than the limit" ? 0 : 100))
                Issue.record("\(url) was accepted")
            } catch {
                #expect(error.message.contains(fragment), "\(url): \(error.message)")
            }
        }
    }

    @Test func oversizedDataURLIsRefusedBeforeDecoding() {
        // 40 MB of 'A' would decode to 30 MB; refused from the length alone (and fast).
        let huge = "data:image/png;base64," + String(repeating: "A", count: 40_000_000)
        #expect(throws: DataURL.Invalid(message: "image is larger than the limit of 10485760 bytes")) {
            try DataURL.parse(huge, maxBytes: 10 << 20)
        }
        // Exactly at the limit passes; one byte over does not.
        let exact = [UInt8](repeating: 7, count: 3000)
        #expect((try? DataURL.parse("data:image/gif;base64," + Data(exact).base64EncodedString(), maxBytes: 3000))?.bytes == exact)
        #expect((try? DataURL.parse("data:image/gif;base64," + Data(exact + [1]).base64EncodedString(), maxBytes: 3000)) == nil)
    }

    @Test func descriptionKeyCoversImagePromptAndGroup() {
        let k = ImageDescriptionCache.key(image: Self.png, prompt: "Describe.", group: "vision")
        #expect(k.count == 64)
        #expect(k == ImageDescriptionCache.key(image: Self.png, prompt: "Describe.", group: "vision"))
        #expect(k != ImageDescriptionCache.key(image: Self.png + [0], prompt: "Describe.", group: "vision"))
        #expect(k != ImageDescriptionCache.key(image: Self.png, prompt: "Describe!", group: "vision"))
        #expect(k != ImageDescriptionCache.key(image: Self.png, prompt: "Describe.", group: "vision2"))
        // Length prefixes: moving a character between prompt and group changes the key.
        #expect(ImageDescriptionCache.key(image: [], prompt: "ab", group: "c")
            != ImageDescriptionCache.key(image: [], prompt: "a", group: "bc"))
    }

    @Test func descriptionCacheExpiresAndEvictsLeastRecentlyUsed() async {
        final class Clock: @unchecked Sendable { var now = 1000.0 }
        let clock = Clock()
        var settings = VisionSettings()
        settings.cacheTTL = 60
        settings.cacheMaxEntries = 2
        let cache = ImageDescriptionCache(settings: settings, clock: CacheClock { clock.now })
        await cache.set("a", "first")
        await cache.set("b", "second")
        #expect(await cache.get("a") == "first")       // a is now the most recently used
        await cache.set("c", "third")                   // evicts b
        #expect(await cache.get("b") == nil)
        #expect(await cache.get("a") == "first")
        #expect(await cache.get("c") == "third")
        clock.now += 59
        #expect(await cache.get("c") == "third")
        clock.now += 1
        #expect(await cache.get("c") == nil)
        #expect(await cache.get("a") == nil)
        #expect(await cache.stats().entries == 0)
    }

    @Test func descriptionCacheIsBoundedInBytes() async {
        var settings = VisionSettings()
        settings.cacheMaxBytes = 1000
        let cache = ImageDescriptionCache(settings: settings)
        for i in 0..<20 { await cache.set("k\(i)", String(repeating: "x", count: 100)) }
        let stats = await cache.stats()
        #expect((stats.bytes ?? .max) <= 1000)
        #expect((stats.entries ?? .max) < 20)
        #expect(await cache.get("k19") != nil)
        #expect(await cache.get("k0") == nil)
    }
}
