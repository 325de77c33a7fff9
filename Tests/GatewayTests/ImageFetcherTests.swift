import Gateway
import Testing

/// URL checks of `ImageFetcher` that end before any connection: schemes, credentials, and hosts that are
/// (or resolve to) non-global addresses, in every spelling libcurl accepts.
@Suite("Image fetcher refusals")
struct ImageFetcherTests {
    static func fetcher(allowPrivate: Bool = false) -> ImageFetcher {
        var settings = VisionSettings()
        settings.allowPrivateImageURLs = allowPrivate
        settings.fetchTimeout = 5
        return ImageFetcher(settings: settings)
    }

    static func refusal(_ url: String) async -> String? {
        do {
            _ = try await fetcher().fetch(url)
            return nil
        } catch {
            return error.message
        }
    }

    @Test func schemesAndCredentials() async {
        #expect(await Self.refusal("ftp://example.com/a.png")?.contains("scheme must be http or https") == true)
        #expect(await Self.refusal("file:///etc/passwd")?.contains("scheme must be http or https") == true)
        #expect(await Self.refusal("gopher://example.com/")?.contains("scheme must be http or https") == true)
        #expect(await Self.refusal("http://user:pw@example.com/a.png")?.contains("credentials") == true)
        #expect(await Self.refusal("not a url")?.contains("not a valid URL") == true)
    }

    @Test func privateHostsInEverySpelling() async {
        let cases: [(String, String)] = [
            ("http://127.0.0.1:9/a.png", "loopback"),
            ("http://127.1:9/a.png", "loopback"),              // shorthand, resolved by getaddrinfo
            ("http://2130706433:9/a.png", "loopback"),         // decimal
            ("http://0x7f000001:9/a.png", "loopback"),         // hex
            ("http://localhost:9/a.png", "loopback"),          // a name resolving to loopback
            ("http://[::1]:9/a.png", "loopback"),
            ("http://[::ffff:127.0.0.1]:9/a.png", "IPv4-mapped loopback"),
            ("http://[::ffff:a9fe:a9fe]/latest/meta-data", "IPv4-mapped link-local"),
            ("http://169.254.169.254/latest/meta-data", "link-local"),
            ("http://0.0.0.0:9/", "unspecified"),
            ("http://[::]:9/", "unspecified"),
            ("https://10.0.0.1/x.png", "private"),
            ("http://192.168.0.10/x.png", "private"),
            ("http://[fe80::1]/x.png", "link-local"),
            ("http://[fd00::1]/x.png", "unique local"),
            ("http://224.0.0.1/x.png", "multicast"),
        ]
        for (url, why) in cases {
            let message = await Self.refusal(url)
            #expect(message?.contains(why) == true && message?.contains("allow_private_image_urls") == true, "\(url): \(message ?? "accepted")")
        }
    }

    @Test func allowPrivateOnlyLiftsTheAddressCheck() async {
        // Allowed to try loopback: the refusal is now the connection (nothing listens on port 9), not the address.
        do {
            _ = try await Self.fetcher(allowPrivate: true).fetch("http://127.0.0.1:9/a.png")
            Issue.record("fetched from a closed port")
        } catch {
            #expect(error.message.contains("could not fetch the image"), "\(error.message)")
        }
        do {
            _ = try await Self.fetcher(allowPrivate: true).fetch("ftp://127.0.0.1/a.png")
            Issue.record("fetched ftp")
        } catch {
            #expect(error.message.contains("scheme must be http or https"))
        }
    }
}
