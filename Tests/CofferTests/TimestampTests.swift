import Foundation
import Testing
@testable import Coffer

@Suite("Timestamp: strict RFC 3339")
struct TimestampTests {
    @Test("date-times and dates parse to the right millisecond, fractions honoured",
          arguments: [
              ("2026-12-03T10:00:00Z", Int64(1_796_292_000_000)),
              ("2026-12-03T10:00:00.5Z", 1_796_292_000_500),
              ("2026-12-03T10:00:00.25Z", 1_796_292_000_250),
              ("2026-12-03T10:00:00.123456789Z", 1_796_292_000_123),
              ("2026-12-03t10:00:00z", 1_796_292_000_000),
              ("2026-12-03T11:00:00+01:00", 1_796_292_000_000),
              ("2026-12-03T09:00:00.750-01:00", 1_796_292_000_750),
              ("2026-12-03", 1_796_256_000_000),
              ("2024-02-29T23:59:59Z", 1_709_251_199_000),
              ("1969-12-31T23:59:59Z", -1000),
              ("1970-01-01", 0),
          ])
    func parses(text: String, milliseconds: Int64) throws {
        #expect(try Timestamp(parsing: text).milliseconds == milliseconds)
        #expect(try Timestamp.milliseconds(parsing: text) == milliseconds)
    }

    @Test("everything else is refused with invalid-argument naming the accepted forms",
          arguments: ["2026-12-03junk", "2026-12-03T25:00:00Z", "2026-12-03T10:60:00Z", "2026-12-03T10:00:60Z",
                      "2026-02-30", "2025-02-29", "2026-13-01", "2026-00-10", "2026-12-00", "2026-12-03T10:00:00",
                      "2026-12-03T10:00:00.Z", "2026-12-03T10:00:00Zjunk", "2026-12-03T10:00:00+24:00",
                      "2026-12-03T10:00:00+01", "2026-12-03 10:00:00Z", " 2026-12-03", "2026-12-3", "26-12-03",
                      "", "+2026-12-03", "2026-12-03T10:00Z", "٢٠٢٦-12-03"])
    func refuses(text: String) async {
        let error = await expectCofferError(.invalidArgument, "\(text)") { _ = try Timestamp(parsing: text) }
        #expect(error?.message.contains("RFC 3339") == true)
    }

    @Test("formatting is RFC 3339 in UTC, with milliseconds only when there are some, and round-trips")
    func formats() throws {
        #expect(Timestamp(milliseconds: 1_796_292_000_000).rfc3339 == "2026-12-03T10:00:00Z")
        #expect(Timestamp(milliseconds: 1_796_292_000_500).rfc3339 == "2026-12-03T10:00:00.500Z")
        #expect(Timestamp(milliseconds: 1_796_292_000_007).rfc3339 == "2026-12-03T10:00:00.007Z")
        #expect(Timestamp(milliseconds: -1).rfc3339 == "1969-12-31T23:59:59.999Z")
        #expect(Timestamp(milliseconds: 0).description == "1970-01-01T00:00:00Z")
        for ms: Int64 in [0, 1, -1, 951_782_400_000, 4_102_444_799_999, -62_135_596_800_000, 253_402_300_799_999] {
            #expect(try Timestamp(parsing: Timestamp(milliseconds: ms).rfc3339).milliseconds == ms, "\(ms)")
        }
        #expect(Timestamp(milliseconds: 1) > Timestamp(milliseconds: 0))
    }
}
