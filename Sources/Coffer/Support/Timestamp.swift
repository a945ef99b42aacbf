import CofferCrypto

/// A point in time as Unix milliseconds, read from and written as RFC 3339 text.
///
/// Coffer keeps every time as Unix milliseconds (UTC). `Timestamp` is the one place that turns
/// text into such a time and back, strictly: it accepts
/// - an RFC 3339 date-time with an offset: `2026-12-03T10:00:00Z`, `2026-12-03T10:00:00.5Z`
///   (fractional seconds honoured to the millisecond, further digits dropped),
///   `2026-12-03T11:00:00+01:00`; `T` and `Z` may be lower-case;
/// - a plain date `2026-12-03`, meaning midnight UTC.
///
/// It refuses everything else with `CofferError` `invalidArgument`: impossible calendar dates
/// (`2026-02-30`), hours above 23, minutes or seconds above 59 (leap seconds included), offsets
/// above 23:59, a date-time without an offset, and anything after the date or date-time.
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Milliseconds since 1970-01-01T00:00:00Z.
    public let milliseconds: Int64

    /// The accepted forms, for error messages and help texts.
    public static let acceptedForms =
        "an RFC 3339 date-time with an offset (2026-11-01T12:00:00Z, 2026-11-01T12:00:00.250+02:00) or a date (2026-11-01, midnight UTC)"

    /// A timestamp at `milliseconds` since the Unix epoch.
    /// - Parameter milliseconds: Milliseconds since 1970-01-01T00:00:00Z (negative before).
    public init(milliseconds: Int64) {
        self.milliseconds = milliseconds
    }

    /// Parses an RFC 3339 date-time or a plain date.
    /// - Parameter text: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` or `YYYY-MM-DD`.
    /// - Throws: `CofferError` `invalidArgument` naming the accepted forms when `text` is not
    ///   exactly one of them or names a time that does not exist.
    public init(parsing text: String) throws {
        guard let milliseconds = Self.parse(Array(text.utf8)) else {
            let shown = text.count > 40 ? String(text.prefix(40)) + "..." : text
            throw CofferError(.invalidArgument, "'\(DisplayText.escaped(shown))' is not a valid time; use \(Self.acceptedForms)")
        }
        self.milliseconds = milliseconds
    }

    /// Parses `text` to Unix milliseconds; see ``init(parsing:)``.
    /// - Parameter text: A date-time or a date.
    /// - Returns: Milliseconds since the Unix epoch.
    /// - Throws: `CofferError` `invalidArgument` when `text` is not an accepted form.
    public static func milliseconds(parsing text: String) throws -> Int64 {
        try Timestamp(parsing: text).milliseconds
    }

    /// The time in RFC 3339 form in UTC: `2026-12-03T10:00:00Z`, or with milliseconds
    /// (`2026-12-03T10:00:00.500Z`) when they are not zero. Years outside 0000-9999 cannot be
    /// written in RFC 3339 and are written with as many digits as they need.
    public var rfc3339: String {
        let (days, msOfDay) = Self.floorDivide(milliseconds, 86_400_000)
        let (year, month, day) = Self.civil(fromDays: days)
        let seconds = msOfDay / 1000, fraction = msOfDay % 1000
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let yearDigits = String(year)
        let yearText = (0...999).contains(year) ? String(repeating: "0", count: 4 - yearDigits.count) + yearDigits : yearDigits
        var out = "\(yearText)-\(two(month))-\(two(day))T\(two(seconds / 3600)):\(two(seconds / 60 % 60)):\(two(seconds % 60))"
        if fraction != 0 { out += "." + (fraction < 10 ? "00" : fraction < 100 ? "0" : "") + String(fraction) }
        return out + "Z"
    }

    /// The ``rfc3339`` form.
    public var description: String { rfc3339 }

    /// Orders timestamps by time.
    /// - Parameters:
    ///   - lhs: A timestamp.
    ///   - rhs: Another timestamp.
    /// - Returns: Whether `lhs` is earlier.
    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.milliseconds < rhs.milliseconds }

    // MARK: - Parsing

    private static func parse(_ s: [UInt8]) -> Int64? {
        var i = 0
        func digits(_ n: Int) -> Int64? {
            guard i + n <= s.count else { return nil }
            var value: Int64 = 0
            for k in i..<i + n {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(s[k]) else { return nil }
                value = value * 10 + Int64(s[k] - UInt8(ascii: "0"))
            }
            i += n
            return value
        }
        func expect(_ characters: String) -> Bool {
            guard i < s.count, characters.utf8.contains(s[i]) else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect("-"), let month = digits(2), expect("-"), let day = digits(2),
              (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day) else { return nil }
        let midnight = days(year: year, month: month, day: day) * 86_400_000
        if i == s.count { return midnight }
        guard expect("Tt"), let hour = digits(2), expect(":"), let minute = digits(2), expect(":"), let second = digits(2),
              hour <= 23, minute <= 59, second <= 59 else { return nil }
        var millis: Int64 = 0
        if i < s.count, s[i] == UInt8(ascii: ".") {
            i += 1
            var count = 0
            while i < s.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(s[i]) {
                if count < 3 { millis = millis * 10 + Int64(s[i] - UInt8(ascii: "0")) }
                count += 1
                i += 1
            }
            guard count > 0 else { return nil }
            for _ in count..<max(count, 3) { millis *= 10 }
        }
        var offset: Int64 = 0
        if expect("Zz") {
            offset = 0
        } else if i < s.count, s[i] == UInt8(ascii: "+") || s[i] == UInt8(ascii: "-") {
            let sign: Int64 = s[i] == UInt8(ascii: "-") ? -1 : 1
            i += 1
            guard let offsetHours = digits(2), expect(":"), let offsetMinutes = digits(2),
                  offsetHours <= 23, offsetMinutes <= 59 else { return nil }
            offset = sign * (offsetHours * 60 + offsetMinutes) * 60_000
        } else {
            return nil  // a date-time needs an offset: local time is ambiguous
        }
        guard i == s.count else { return nil }
        return midnight + ((hour * 60 + minute) * 60 + second) * 1000 + millis - offset
    }

    private static func isLeap(_ year: Int64) -> Bool { year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
    private static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDivide(y, 400).quotient
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The proleptic Gregorian date of a day count since 1970-01-01 (`civil_from_days`).
    private static func civil(fromDays z: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = z + 719_468
        let era = floorDivide(shifted, 146_097).quotient
        let doe = shifted - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func floorDivide(_ a: Int64, _ b: Int64) -> (quotient: Int64, remainder: Int64) {
        let q = a / b, r = a % b
        return r < 0 ? (q - 1, r + b) : (q, r)
    }
}
