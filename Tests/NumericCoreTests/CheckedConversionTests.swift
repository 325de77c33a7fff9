import NumericCore
import Testing

/// Numbers from outside never trap on their way to integers (release builds keep overflow checks on).
@Suite struct CheckedConversionTests {
    @Test(arguments: [Double.nan, .infinity, -.infinity, 1e300, -1e300, 1e19, 9.3e18, Double(Int.max)])
    func outOfRangeIsRefused(value: Double) {
        #expect(CheckedConversion.int(roundingUp: value) == nil)
    }

    @Test func inRangeRoundsUp() {
        #expect(CheckedConversion.int(roundingUp: 1.2) == 2)
        #expect(CheckedConversion.int(roundingUp: -1.5) == -1)
        #expect(CheckedConversion.int(roundingUp: 5, in: 0...4) == nil)
        #expect(CheckedConversion.int(roundingUp: 4, in: 0...4) == 4)
    }

    @Test func millisecondsAreClamped() {
        let year = Int(CheckedConversion.maxSeconds) * 1000
        #expect(CheckedConversion.milliseconds(1.5) == 1500)
        #expect(CheckedConversion.milliseconds(0) == 1 && CheckedConversion.milliseconds(-5) == 1)
        #expect(CheckedConversion.milliseconds(.nan) == 1)
        #expect(CheckedConversion.milliseconds(1e300) == year && CheckedConversion.milliseconds(.infinity) == year)
    }

    @Test func wholeSecondsAreClamped() {
        #expect(CheckedConversion.wholeSeconds(0.2) == 1 && CheckedConversion.wholeSeconds(3) == 3)
        #expect(CheckedConversion.wholeSeconds(.nan) == 0 && CheckedConversion.wholeSeconds(-1) == 0)
        #expect(CheckedConversion.wholeSeconds(1e300) == Int(CheckedConversion.maxSeconds))
    }
}
