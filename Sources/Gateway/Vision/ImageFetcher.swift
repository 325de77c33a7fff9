import CurlHTTP
import Foundation

/// Downloads an image URL for the vision fallback with the limits a gateway needs when a client names the
/// URL: http / https only, no credentials in the URL, the response must be `image/*` and at most
/// `maxImageBytes` (aborted as soon as the body passes it), one total time limit over every hop, redirects
/// followed by hand (at most `maxRedirects`), and each hop's host resolved once, every address it resolves
/// to checked with `AddressClass`, and the connection pinned to the checked addresses (`CURLOPT_RESOLVE`,
/// fresh connection, no proxy), so a name that re-resolves to a private address (DNS rebinding) cannot be
/// reached. `allowPrivate` skips the address check only.
public struct ImageFetcher: Sendable {
    public struct Refused: Error, Equatable, Sendable {
        public var message: String
        public init(_ message: String) { self.message = message }
    }

    public var client: HTTPClient
    public var maxBytes: Int
    public var timeout: Double
    public var maxRedirects: Int
    public var allowPrivate: Bool

    public init(client: HTTPClient = .shared, settings: VisionSettings) {
        self.client = client
        maxBytes = settings.maxImageBytes
        timeout = settings.fetchTimeout
        maxRedirects = settings.maxRedirects
        allowPrivate = settings.allowPrivateImageURLs
    }

    /// The image's media type (lowercased, no parameters) and bytes.
    public func fetch(_ text: String) async throws(Refused) -> (mediaType: String, bytes: [UInt8]) {
        let deadline = ContinuousClock.now + .milliseconds(Int64(timeout * 1000))
        var current = text
        var hops = 0
        while true {
            let url = try check(current)
            let left = Self.seconds(until: deadline)
            guard left > 0 else { throw Refused("fetching the image took longer than \(timeout) s") }
            let addresses: [[UInt8]]
            do {
                addresses = try await HostResolver.resolve(url.host, port: url.port, timeout: left)
            } catch {
                throw Refused(error.message)
            }
            if !allowPrivate {
                for address in addresses {
                    if case .restricted(let why) = AddressClass.of(bytes: address) {
                        throw Refused("image host \(url.host) resolves to \(HostResolver.text(address)), a \(why) address; "
                            + "fetching from non-global addresses is not allowed (vision_settings.allow_private_image_urls)")
                    }
                }
            }
            let pinned = addresses.map { $0.count == 16 ? "[\(HostResolver.text($0))]" : HostResolver.text($0) }
            var request = HTTPClientRequest(url: url.url, method: "GET", headers: [("Accept", "image/*")],
                                            timeout: Self.seconds(until: deadline), maxResponseBytes: maxBytes)
            // An address literal is connected to as written; a name is pinned to the addresses just checked.
            if AddressClass.parse(url.host) == nil {
                request.resolve = ["\(url.host):\(url.port):\(pinned.joined(separator: ","))"]
            }
            request.protocols = "http,https"
            request.isolated = true
            let response: HTTPClientResponse
            do {
                response = try await client.execute(request)
            } catch {
                throw Refused(error.kind == .timeout ? "fetching the image took longer than \(timeout) s"
                                                     : "could not fetch the image: \(error.message)")
            }
            let status = response.head.status
            if (300..<400).contains(status), let location = response.head.value(of: "location") {
                hops += 1
                guard hops <= maxRedirects else { throw Refused("image URL redirected more than \(maxRedirects) times") }
                guard let next = CurlURL(location, relativeTo: url.url) else {
                    throw Refused("image URL redirected to an invalid URL")
                }
                current = next.url
                continue
            }
            guard status == 200 else { throw Refused("image URL answered HTTP \(status)") }
            let type = Self.mediaType(response.head.value(of: "content-type"))
            guard type.hasPrefix("image/"), type.count > 6 else {
                throw Refused("image URL content type must be image/*, got '\(type.isEmpty ? "(none)" : String(type.prefix(64)))'")
            }
            if let length = response.head.value(of: "content-length").flatMap({ Int($0) }), length > maxBytes {
                throw Refused("image is larger than the limit of \(maxBytes) bytes")
            }
            do {
                let bytes = try await response.collect(limit: maxBytes)
                guard !bytes.isEmpty else { throw Refused("image URL returned an empty body") }
                return (type, bytes)
            } catch let error as Refused {
                throw error
            } catch let error as HTTPClientError {
                switch error.kind {
                case .responseTooLarge: throw Refused("image is larger than the limit of \(maxBytes) bytes")
                case .timeout: throw Refused("fetching the image took longer than \(timeout) s")
                default: throw Refused("could not fetch the image: \(error.message)")
                }
            } catch {
                throw Refused("could not fetch the image: \(error)")
            }
        }
    }

    /// The URL as libcurl parses it, if its scheme and form may be fetched.
    func check(_ text: String) throws(Refused) -> CurlURL {
        guard let url = CurlURL(text) else { throw Refused("image URL is not a valid URL") }
        guard url.scheme == "http" || url.scheme == "https" else {
            throw Refused("image URL scheme must be http or https, got '\(String(url.scheme.prefix(16)))'")
        }
        guard !url.hasCredentials else { throw Refused("image URL must not carry credentials") }
        guard !url.host.isEmpty, !url.host.contains("%") else { throw Refused("image URL has no usable host") }
        return url
    }

    static func mediaType(_ header: String?) -> String {
        guard let header else { return "" }
        return (header.split(separator: ";").first.map(String.init) ?? "").trimmingCharacters(in: .whitespaces).lowercased()
    }

    static func seconds(until deadline: ContinuousClock.Instant) -> Double {
        let d = deadline - ContinuousClock.now
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
