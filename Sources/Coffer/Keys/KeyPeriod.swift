import Foundation

/// The period one content data key covers: every version (and every new object's name) of a
/// tenant's class made in it is sealed under that period's key, so a key can be destroyed as
/// soon as retention or erasure has removed what was made in its period, and never seals
/// anything that outlives it by more than the period's length.
///
/// Run telemetry, kept 7 days on the free plan, has keys of one week (from Monday 00:00 UTC);
/// every other class has keys of one calendar month (UTC).
struct KeyPeriod: Sendable, Hashable {
    /// First millisecond of the period (Unix milliseconds).
    let start: Int64
    /// First millisecond after it.
    let end: Int64

    /// The period of `kind` that contains `time` (Unix milliseconds).
    static func containing(_ time: Int64, kind: ObjectKind) -> KeyPeriod {
        let day: Int64 = 86_400_000
        if kind == .runTelemetry {
            // 1970-01-05 was a Monday.
            let monday: Int64 = 4 * day
            let week = 7 * day
            let start = monday + Self.floorDiv(time - monday, week) * week
            return KeyPeriod(start: start, end: start + week)
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let date = Date(timeIntervalSince1970: TimeInterval(floorDiv(time, 1000)))
        let parts = calendar.dateComponents([.year, .month], from: date)
        let first = calendar.date(from: parts)!
        let next = calendar.date(byAdding: .month, value: 1, to: first)!
        return KeyPeriod(start: Int64(first.timeIntervalSince1970) * 1000, end: Int64(next.timeIntervalSince1970) * 1000)
    }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    /// How long after a period ends its key stays even when nothing uses it: a put that took the
    /// key just before the period ended has reserved its version row well within this.
    static let destroyGrace: Int64 = 86_400_000
}
