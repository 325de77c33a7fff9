import Testing
@testable import Tensor

/// `Half` against the platform's binary16 conversion (`Float16`, F16C / compiler-rt on x86).
@Suite("Half conversion")
struct QuantHalfTests {
    @Test("toFloat matches Float16 for all 65536 bit patterns")
    func toFloatExhaustive() {
        var mismatches: [UInt16] = []
        for bits in 0...UInt16.max {
            let got = Half.toFloat(bits)
            let want = Float(Float16(bitPattern: bits))
            if want.isNaN {
                if !got.isNaN { mismatches.append(bits) }
            } else if got.bitPattern != want.bitPattern {
                mismatches.append(bits)
            }
        }
        #expect(mismatches.isEmpty, "first mismatches: \(mismatches.prefix(8))")
    }

    @Test("fromFloat inverts toFloat for every non-NaN binary16")
    func roundTrip() {
        var mismatches: [UInt16] = []
        for bits in 0...UInt16.max where !Half.toFloat(bits).isNaN {
            if Half.fromFloat(Half.toFloat(bits)) != bits { mismatches.append(bits) }
        }
        #expect(mismatches.isEmpty, "first mismatches: \(mismatches.prefix(8))")
        #expect(Half.toFloat(Half.fromFloat(.nan)).isNaN)
    }

    @Test("fromFloat rounds ties to even: every midpoint and its neighbours match Float16")
    func midpoints() {
        var mismatches: [Float] = []
        for bits in UInt16(0)..<0x7C00 {  // positive finite halves; next one may be inf
            let lo = Half.toFloat(bits), hi = Half.toFloat(bits + 1)
            let mid = (lo + hi) / 2  // exact: halves have 11-bit significands
            for f in [mid, mid.nextUp, mid.nextDown, -mid, -mid.nextUp] {
                if Half.fromFloat(f) != Float16(f).bitPattern { mismatches.append(f) }
            }
        }
        #expect(mismatches.isEmpty, "first mismatches: \(mismatches.prefix(8))")
    }

    @Test("fromFloat matches Float16 on random floats of every magnitude, and on the specials")
    func randomFloats() {
        var rng = QuantRNG(seed: 16)
        var mismatches: [Float] = []
        for _ in 0..<200_000 {
            let f = Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng))
            if f.isNaN { continue }
            if Half.fromFloat(f) != Float16(f).bitPattern { mismatches.append(f) }
        }
        for f: Float in [0, -0.0, .infinity, -.infinity, 65504, 65519.99, 65520, 1e-8, 2.98e-8, 5.96e-8, .leastNonzeroMagnitude]
            where Half.fromFloat(f) != Float16(f).bitPattern {
            mismatches.append(f)
        }
        #expect(mismatches.isEmpty, "first mismatches: \(mismatches.prefix(8))")
    }
}
