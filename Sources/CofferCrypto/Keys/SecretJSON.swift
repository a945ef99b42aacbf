/// A small, strict JSON reader that works in place on a zeroizing buffer.
///
/// Strings come back as byte ranges of the input, so key material can be decoded from the
/// buffer straight into ``SecureBytes`` without ever becoming a Swift `String`. Used for the
/// keyring file only; it accepts standard JSON (RFC 8259) and nothing more.
enum SecretJSON {
    indirect enum Value {
        case object([(key: String, value: Value)])
        case array([Value])
        case string(Range<Int>)
        case number(Range<Int>)
        case bool(Bool)
        case null
    }

    struct SyntaxError: Error {
        let offset: Int
        let reason: String
    }

    static func parse(_ bytes: UnsafeRawBufferPointer) throws(SyntaxError) -> Value {
        var reader = Reader(bytes: bytes)
        let value = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.position == bytes.count else { throw SyntaxError(offset: reader.position, reason: "trailing characters") }
        return value
    }

    /// Decodes a string value that may contain escapes into a Swift `String` (not for secrets).
    static func text(_ range: Range<Int>, in bytes: UnsafeRawBufferPointer) -> String {
        var out: [UInt8] = []
        var i = range.lowerBound
        while i < range.upperBound {
            let c = bytes[i]
            if c == UInt8(ascii: "\\"), i + 1 < range.upperBound {
                let e = bytes[i + 1]
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    // \u and four hex digits: BMP scalars only; surrogate halves become U+FFFD.
                    if i + 5 < range.upperBound, let v = UInt32(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[i + 2..<i + 6]), as: UTF8.self), radix: 16) {
                        out.append(contentsOf: Array(String(Unicode.Scalar(v).map(Character.init) ?? "\u{FFFD}").utf8))
                        i += 6
                        continue
                    }
                    out.append(e)
                default: out.append(e)
                }
                i += 2
            } else {
                out.append(c)
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var position = 0

        mutating func skipSpace() {
            while position < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[position]) { position += 1 }
        }

        mutating func expect(_ literal: StaticString) throws(SyntaxError) {
            let text = UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
            guard position + text.count <= bytes.count,
                  text.elementsEqual(bytes[position..<position + text.count]) else {
                throw SyntaxError(offset: position, reason: "expected \(literal)")
            }
            position += text.count
        }

        mutating func value(depth: Int) throws(SyntaxError) -> Value {
            guard depth < 32 else { throw SyntaxError(offset: position, reason: "nested too deeply") }
            skipSpace()
            guard position < bytes.count else { throw SyntaxError(offset: position, reason: "unexpected end of file") }
            switch bytes[position] {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try expect("true"); return .bool(true)
            case UInt8(ascii: "f"): try expect("false"); return .bool(false)
            case UInt8(ascii: "n"): try expect("null"); return .null
            default: return .number(try number())
            }
        }

        mutating func object(depth: Int) throws(SyntaxError) -> Value {
            position += 1
            var members: [(key: String, value: Value)] = []
            skipSpace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
            while true {
                skipSpace()
                guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                    throw SyntaxError(offset: position, reason: "expected a quoted member name")
                }
                let key = SecretJSON.text(try string(), in: bytes)
                skipSpace()
                try expect(":")
                members.append((key, try value(depth: depth + 1)))
                skipSpace()
                guard position < bytes.count else { throw SyntaxError(offset: position, reason: "unterminated object") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                if bytes[position] == UInt8(ascii: "}") { position += 1; return .object(members) }
                throw SyntaxError(offset: position, reason: "expected ',' or '}'")
            }
        }

        mutating func array(depth: Int) throws(SyntaxError) -> Value {
            position += 1
            var items: [Value] = []
            skipSpace()
            if position < bytes.count, bytes[position] == UInt8(ascii: "]") { position += 1; return .array(items) }
            while true {
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard position < bytes.count else { throw SyntaxError(offset: position, reason: "unterminated array") }
                if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
                if bytes[position] == UInt8(ascii: "]") { position += 1; return .array(items) }
                throw SyntaxError(offset: position, reason: "expected ',' or ']'")
            }
        }

        mutating func string() throws(SyntaxError) -> Range<Int> {
            position += 1
            let start = position
            while position < bytes.count {
                let c = bytes[position]
                if c == UInt8(ascii: "\"") { position += 1; return start..<position - 1 }
                if c == UInt8(ascii: "\\") { position += 2; continue }
                if c < 0x20 { throw SyntaxError(offset: position, reason: "control character in string") }
                position += 1
            }
            throw SyntaxError(offset: start, reason: "unterminated string")
        }

        mutating func number() throws(SyntaxError) -> Range<Int> {
            let start = position
            while position < bytes.count, "+-0123456789.eE".utf8.contains(bytes[position]) { position += 1 }
            guard position > start else { throw SyntaxError(offset: position, reason: "unexpected character") }
            return start..<position
        }
    }
}
