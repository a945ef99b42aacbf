import Foundation
import CofferCrypto

/// The time of a signature in the two forms Signature Version 4 uses: `20130524T000000Z`
/// (`x-amz-date`, `X-Amz-Date`) and `20130524` (the credential scope). Always UTC, whole seconds
/// (a fraction is dropped), computed from the Unix time without a calendar or a locale.
struct SigningTime: Sendable, Equatable {
    /// `YYYYMMDD'T'HHMMSS'Z'`.
    let stamp: String
    /// `YYYYMMDD`, the first eight characters of ``stamp``.
    var day: String { String(stamp.prefix(8)) }

    /// The latest time the four-digit year holds: 9999-12-31T23:59:59Z.
    private static let latest: Int64 = 253_402_300_799

    /// - Parameter date: The moment to sign at.
    /// - Throws: ``CofferError`` `invalidArgument` for a time before 1970 or after 9999.
    init(_ date: Date) throws {
        let interval = date.timeIntervalSince1970
        guard interval.isFinite, interval >= 0, interval <= Double(Self.latest) else {
            throw CofferError(.invalidArgument,
                              "signing time \(interval) s since 1970 is outside 1970-01-01 to 9999-12-31 UTC")
        }
        let seconds = Int64(interval.rounded(.down))
        let days = seconds / 86_400, secondOfDay = seconds % 86_400
        let (year, month, day) = Self.civil(fromDays: days)
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let yearText = String(repeating: "0", count: 4 - String(year).count) + String(year)
        stamp = yearText + two(month) + two(day) + "T"
            + two(secondOfDay / 3600) + two(secondOfDay / 60 % 60) + two(secondOfDay % 60) + "Z"
    }

    /// Year, month and day of the proleptic Gregorian calendar for days since 1970-01-01 (H. Hinnant's
    /// `civil_from_days`, for days >= 0).
    private static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = z / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }
}
