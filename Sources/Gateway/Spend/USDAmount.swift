/// An amount of US dollars as an exact integer count of pico-dollars (1e-12 USD).
///
/// NOTE: money is never a `Double` here. Per-token prices are tiny (1.5e-7 USD) and a key's spend is the
/// sum of millions of them: floating point would drift, and two instances adding the same costs in a
/// different order would disagree. Pico-dollars as `Int64` represent every price LiteLLM's price map uses
/// exactly (none has more than 12 decimals), sum exactly, reach 9.2 million USD before saturating, and add
/// atomically in Redis (`INCRBY`, integers only; `INCRBYFLOAT` would reintroduce the drift). Micro-dollars
/// would not do: one token of a 1.5e-7 USD/token model costs 0.15 micro-dollars.
public struct USDAmount: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Pico-dollars (1e-12 USD).
    public var pico: Int64

    public static let zero = USDAmount(pico: 0)
    /// Pico-dollars per dollar.
    public static let picoPerDollar: Int64 = 1_000_000_000_000
    /// The largest amount a config value may name (a bound on outside input, far above any real budget).
    public static let maxConfigDollars: Double = 1_000_000

    public init(pico: Int64) { self.pico = pico }

    /// `dollars` rounded to the nearest pico-dollar; nil when not finite, negative or above
    /// `maxConfigDollars`. A config's decimal price (e.g. `0.00000015`) comes back exactly: a `Double` holds
    /// 15-16 significant digits, so any value with at most 12 decimals below 1e6 USD rounds to its own pico count.
    public init?(dollars: Double) {
        guard dollars.isFinite, dollars >= 0, dollars <= Self.maxConfigDollars else { return nil }
        pico = Int64((dollars * Double(Self.picoPerDollar)).rounded())
    }

    /// `self + other`, saturating at `Int64.max` (amounts are never negative).
    public static func + (a: USDAmount, b: USDAmount) -> USDAmount {
        let (sum, overflow) = a.pico.addingReportingOverflow(b.pico)
        return USDAmount(pico: overflow ? .max : sum)
    }

    public static func += (a: inout USDAmount, b: USDAmount) { a = a + b }

    /// `max(0, a - b)`.
    public static func savings(_ a: USDAmount, over b: USDAmount) -> USDAmount {
        a.pico > b.pico ? USDAmount(pico: a.pico - b.pico) : .zero
    }

    /// `count` units at this price each, saturating (token counts come from upstream `usage`).
    public func times(_ count: Int) -> USDAmount {
        guard count > 0 else { return .zero }
        let (product, overflow) = pico.multipliedReportingOverflow(by: Int64(count))
        return USDAmount(pico: overflow ? .max : product)
    }

    public static func < (a: USDAmount, b: USDAmount) -> Bool { a.pico < b.pico }

    /// Dollars as a float, for JSON and Prometheus (LiteLLM reports spend as a JSON number); exact up to
    /// 2^53 pico-dollars (9,007 USD), within one part in 10^15 above.
    public var dollars: Double { Double(pico) / Double(Self.picoPerDollar) }

    /// The exact decimal value in dollars, without trailing zeros: `0.00000015`, `12.5`, `0`.
    public var description: String {
        let whole = pico / Self.picoPerDollar, fraction = pico % Self.picoPerDollar
        guard fraction != 0 else { return String(whole) }
        var digits = String(fraction)
        digits = String(repeating: "0", count: 12 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(whole).\(digits)"
    }
}
