import Foundation
import Testing
@testable import Coffer

@Suite("Key periods")
struct KeyPeriodTests {
    /// The month containing `time` as Foundation's UTC Gregorian calendar computes it.
    private func calendarMonth(_ time: Int64) -> KeyPeriod {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let seconds = time >= 0 ? time / 1000 : -((-time + 999) / 1000)
        let parts = calendar.dateComponents([.year, .month], from: Date(timeIntervalSince1970: TimeInterval(seconds)))
        let first = calendar.date(from: parts)!
        let next = calendar.date(byAdding: .month, value: 1, to: first)!
        return KeyPeriod(start: Int64(first.timeIntervalSince1970) * 1000, end: Int64(next.timeIntervalSince1970) * 1000)
    }

    @Test("monthly periods match the UTC calendar: month ends, leap days, centuries, before 1970")
    func months() {
        let day: Int64 = 86_400_000
        var times: [Int64] = [0, -1, 1, 951_782_400_000 - 1, 951_782_400_000, 951_868_800_000 - 1,  // 2000-02-29 and its edges
                              4_107_456_000_000, 1_796_083_200_000 - 1, 1_796_083_200_000, -2_208_988_800_000]  // 2100-03-01, 2026-12-01, 1900
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<2000 { times.append(Int64.random(in: -10_000 * day ... 80_000 * day, using: &generator)) }
        for time in times {
            let period = KeyPeriod.containing(time, kind: .scanResult)
            #expect(period == calendarMonth(time), "time \(time)")
            #expect(period.start <= time && time < period.end, "time \(time)")
        }
    }

    @Test("telemetry periods are weeks from Monday 00:00 UTC")
    func weeks() {
        let period = KeyPeriod.containing(1_796_083_200_000, kind: .runTelemetry)  // 2026-12-01, a Tuesday
        #expect(period.start == 1_796_083_200_000 - 86_400_000)
        #expect(period.end - period.start == 7 * 86_400_000)
    }
}
