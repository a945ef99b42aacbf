import CofferCrypto
import Foundation

/// A run of consecutive segments of one version stored as one object: where it starts, how long
/// each segment is (big-endian UInt32s, as the `lengths` column holds them), so a range read
/// fetches only the bytes of the segments it needs.
struct SegmentGroup: Sendable {
    let firstIndex: Int
    let lengths: [Int]
    let location: String
    let key: String

    var lastIndex: Int { firstIndex + lengths.count - 1 }

    /// `lengths` as stored.
    static func encode(_ lengths: [Int]) -> Data {
        var data = Data(capacity: lengths.count * 4)
        for length in lengths {
            let value = UInt32(length)
            data.append(contentsOf: [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)])
        }
        return data
    }

    /// The stored `lengths`, or nil when malformed.
    static func decode(_ data: Data) -> [Int]? {
        guard !data.isEmpty, data.count % 4 == 0 else { return nil }
        let bytes = [UInt8](data)
        return stride(from: 0, to: bytes.count, by: 4).map { i in
            Int(bytes[i]) << 24 | Int(bytes[i + 1]) << 16 | Int(bytes[i + 2]) << 8 | Int(bytes[i + 3])
        }
    }

    /// The byte range of segments `first...last` (inside this group) within the object, and the
    /// offset of each of them from the range's start.
    func byteRange(_ first: Int, _ last: Int) -> (range: ClosedRange<Int64>, offsets: [Int]) {
        var start = 0
        for i in 0..<(first - firstIndex) { start += lengths[i] }
        var offsets: [Int] = []
        var position = 0
        for i in (first - firstIndex)...(last - firstIndex) {
            offsets.append(position)
            position += lengths[i]
        }
        return (Int64(start)...Int64(start + position - 1), offsets)
    }
}
