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
        // The UTC calendar month, in integer arithmetic (a put asks for it every time: Foundation's
        // Calendar cost more than sealing the content).
        let (year, month) = civil(days: floorDiv(time, day))
        let next = month == 12 ? (year + 1, Int64(1)) : (year, month + 1)
        return KeyPeriod(start: daysFromCivil(year: year, month: month, day: 1) * day,
                         end: daysFromCivil(year: next.0, month: next.1, day: 1) * day)
    }

    /// The proleptic Gregorian year and month of day `days` since 1970-01-01 (H. Hinnant's
    /// `civil_from_days`).
    static func civil(days: Int64) -> (year: Int64, month: Int64) {
        let z = days + 719_468
        let era = floorDiv(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDiv(y, 400)
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    private static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    /// How long after a period ends its key stays even when nothing uses it: a put that took the
    /// key just before the period ended has reserved its version row well within this.
    static let destroyGrace: Int64 = 86_400_000
}
