import Foundation

/// Whether an IP address may be fetched from on a client's behalf (image URLs). Pure: 4 or 16 address bytes
/// in, a verdict out. Everything that is not a globally routable unicast address is refused, including the
/// IPv4 ranges hidden inside IPv6 forms (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64
/// `64:ff9b::/96`, 6to4 `2002::/16`), so `::ffff:127.0.0.1` or `::ffff:169.254.169.254` is as private as the
/// IPv4 address it names.
public enum AddressClass: Equatable, Sendable {
    case global
    /// Why the address is refused (e.g. "loopback", "link-local").
    case restricted(String)

    public var isGlobal: Bool { self == .global }

    /// The class of a textual IPv4 or IPv6 address (nil when it is neither).
    public static func of(_ text: String) -> AddressClass? {
        guard let bytes = parse(text) else { return nil }
        return of(bytes: bytes)
    }

    /// 4 (IPv4) or 16 (IPv6) bytes; any other length is refused.
    public static func of(bytes: [UInt8]) -> AddressClass {
        switch bytes.count {
        case 4: return ipv4(bytes)
        case 16: return ipv6(bytes)
        default: return .restricted("not an IP address")
        }
    }

    /// `inet_pton` for both families (IPv6 first when the text has a colon). Zone ids (`%eth0`) are refused.
    public static func parse(_ text: String) -> [UInt8]? {
        if text.contains(":") {
            var a = in6_addr()
            guard inet_pton(AF_INET6, text, &a) == 1 else { return nil }
            return withUnsafeBytes(of: &a) { Array($0) }
        }
        var a = in_addr()
        guard inet_pton(AF_INET, text, &a) == 1 else { return nil }
        return withUnsafeBytes(of: &a) { Array($0) }
    }

    static func ipv4(_ b: [UInt8]) -> AddressClass {
        switch (b[0], b[1], b[2]) {
        case (0, _, _): return .restricted("unspecified (0.0.0.0/8)")
        case (10, _, _): return .restricted("private (10.0.0.0/8)")
        case (100, 64...127, _): return .restricted("shared address space (100.64.0.0/10)")
        case (127, _, _): return .restricted("loopback (127.0.0.0/8)")
        case (169, 254, _): return .restricted("link-local (169.254.0.0/16)")
        case (172, 16...31, _): return .restricted("private (172.16.0.0/12)")
        case (192, 0, 0): return .restricted("IETF protocol assignments (192.0.0.0/24)")
        case (192, 0, 2), (198, 51, 100), (203, 0, 113): return .restricted("documentation")
        case (192, 88, 99): return .restricted("6to4 relay anycast (192.88.99.0/24)")
        case (192, 168, _): return .restricted("private (192.168.0.0/16)")
        case (198, 18...19, _): return .restricted("benchmarking (198.18.0.0/15)")
        case (224...239, _, _): return .restricted("multicast (224.0.0.0/4)")
        case (240...255, _, _): return .restricted("reserved or broadcast (240.0.0.0/4)")
        default: return .global
        }
    }

    static func ipv6(_ b: [UInt8]) -> AddressClass {
        let v4 = Array(b[12..<16])
        if b[0..<15].allSatisfy({ $0 == 0 }) {
            return b[15] == 0 ? .restricted("unspecified (::)") : b[15] == 1 ? .restricted("loopback (::1)")
                : .restricted("IPv4-compatible (deprecated, ::/96)")
        }
        if b[0..<10].allSatisfy({ $0 == 0 }), b[10] == 0xff, b[11] == 0xff { return embedded(v4, "IPv4-mapped") }
        if b[0..<12].allSatisfy({ $0 == 0 }) { return .restricted("IPv4-compatible (deprecated, ::/96)") }
        // 64:ff9b::/96 (NAT64, RFC 6052) and 64:ff9b:1::/48 (local-use NAT64).
        if b[0] == 0, b[1] == 0x64, b[2] == 0xff, b[3] == 0x9b {
            if b[4..<12].allSatisfy({ $0 == 0 }) { return embedded(v4, "NAT64") }
            if b[4] == 0, b[5] == 1 { return .restricted("local-use NAT64 (64:ff9b:1::/48)") }
        }
        if b[0] == 0x20, b[1] == 0x02 { return embedded(Array(b[2..<6]), "6to4") }
        if b[0] == 0x01, b[1] == 0x00, b[2..<8].allSatisfy({ $0 == 0 }) { return .restricted("discard-only (100::/64)") }
        if b[0] == 0x20, b[1] == 0x01, b[2] == 0x0d, b[3] == 0xb8 { return .restricted("documentation (2001:db8::/32)") }
        if b[0] == 0x20, b[1] == 0x01, b[2] == 0, b[3] == 0 { return .restricted("Teredo (2001::/32)") }
        if b[0] & 0xfe == 0xfc { return .restricted("unique local (fc00::/7)") }
        if b[0] == 0xfe, b[1] & 0xc0 == 0x80 { return .restricted("link-local (fe80::/10)") }
        if b[0] == 0xfe, b[1] & 0xc0 == 0xc0 { return .restricted("site-local (fec0::/10)") }
        if b[0] == 0xff { return .restricted("multicast (ff00::/8)") }
        // Only 2000::/3 is allocated global unicast; the rest is reserved.
        if b[0] & 0xe0 != 0x20 { return .restricted("reserved IPv6 (outside 2000::/3)") }
        return .global
    }

    /// An IPv6 form carrying an IPv4 address is as restricted as that address.
    private static func embedded(_ v4: [UInt8], _ form: String) -> AddressClass {
        switch ipv4(v4) {
        case .global: return .global
        case .restricted(let why): return .restricted("\(form) \(why)")
        }
    }
}
