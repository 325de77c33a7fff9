import Foundation
import Redis

/// `getaddrinfo` off Swift's cooperative pool, bounded in time: the addresses a host name resolves to, as
/// 4- or 16-byte arrays. A resolver that does not answer in time is abandoned (its thread finishes on its
/// own; the answer is dropped).
enum HostResolver {
    struct Failure: Error { var message: String }

    static func resolve(_ host: String, port: Int, timeout: Double) async throws(Failure) -> [[UInt8]] {
        let once = SyncBox<CheckedContinuation<Result<[[UInt8]], Failure>, Never>?>(nil)
        let result: Result<[[UInt8]], Failure> = await withCheckedContinuation { continuation in
            once.withLock { $0 = continuation }
            let finish: @Sendable (Result<[[UInt8]], Failure>) -> Void = { result in
                once.withLock { pending in
                    pending?.resume(returning: result)
                    pending = nil
                }
            }
            DispatchQueue.global().async { finish(HostResolver.lookUp(host, port: port)) }
            DispatchQueue.global().asyncAfter(deadline: .now() + max(0.001, timeout)) {
                finish(.failure(Failure(message: "resolving \(host) took longer than \(timeout) s")))
            }
        }
        return try result.get()
    }

    private static func lookUp(_ host: String, port: Int) -> Result<[[UInt8]], Failure> {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0 else {
            return .failure(Failure(message: "could not resolve \(host): \(String(cString: gai_strerror(status)))"))
        }
        defer { freeaddrinfo(list) }
        var out: [[UInt8]] = []
        var node = list
        while let n = node {
            if let sa = n.pointee.ai_addr {
                if n.pointee.ai_family == AF_INET {
                    var a = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                    out.append(withUnsafeBytes(of: &a) { Array($0) })
                } else if n.pointee.ai_family == AF_INET6 {
                    var a = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                    out.append(withUnsafeBytes(of: &a) { Array($0) })
                }
            }
            node = n.pointee.ai_next
        }
        var seen = Set<[UInt8]>()
        out = out.filter { seen.insert($0).inserted }
        return out.isEmpty ? .failure(Failure(message: "\(host) has no IPv4 or IPv6 address")) : .success(out)
    }

    /// The textual form of 4 or 16 address bytes (`inet_ntop`).
    static func text(_ bytes: [UInt8]) -> String {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        let family = bytes.count == 4 ? AF_INET : AF_INET6
        let ok = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count)) != nil }
        return ok ? String(cString: buffer) : "?"
    }
}
