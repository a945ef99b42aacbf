import Foundation
import CofferCrypto

/// The time of a signature in the two forms Signature Version 4 uses: `20130524T000000Z`
/// (`x-amz-date`, `X-Amz-Date`) and `20130524` (the credential scope). Always UTC, whole seconds
/// (a fraction is dropped, as botocore drops it).
struct SigningTime: Sendable, Equatable {
    /// `YYYYMMDD'T'HHMMSS'Z'`.
    let stamp: String
    /// `YYYYMMDD`, the first eight characters of ``stamp``.
    var day: String { String(stamp.prefix(8)) }

    /// The latest time a four-digit year holds: 9999-12-31T23:59:59Z.
    private static let latest: Double = 253_402_300_799
    /// ISO 8601 basic format in UTC, without fractional seconds.
    private static let style = Date.ISO8601FormatStyle(dateSeparator: .omitted, dateTimeSeparator: .standard,
                                                       timeSeparator: .omitted)

    /// - Parameter date: The moment to sign at.
    /// - Throws: ``CofferError`` `invalidArgument` for a time before 1970 or after 9999.
    init(_ date: Date) throws {
        let interval = date.timeIntervalSince1970
        guard interval.isFinite, interval >= 0, interval <= Self.latest else {
            throw CofferError(.invalidArgument,
                              "signing time \(interval) s since 1970 is outside 1970-01-01 to 9999-12-31 UTC")
        }
        stamp = Date(timeIntervalSince1970: interval.rounded(.down)).formatted(Self.style)
    }
}
