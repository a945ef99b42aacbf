import CofferCrypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Checks on personal data before it is stored. Messages name the field and the rule, never the value.
enum PIIValidation {
    /// Refuses any text that contains a full payment card number: 13 to 19 digits, possibly
    /// separated by spaces or dashes, that pass the Luhn check. Applied to every field.
    static func refuseCardNumbers(_ value: String, field: String) throws {
        if containsCardNumber(value) {
            throw CofferError(.cardNumberRefused,
                              "\(field) looks like it contains a full payment card number; Coffer stores only the last 4 digits")
        }
    }

    static func containsCardNumber(_ text: String) -> Bool {
        // Runs of digits (any script's decimal digits) joined by spaces or dashes; every
        // window of 13...19 digits in a run is checked, so a number hidden in a longer run is found.
        var digits: [UInt8] = []
        var separators = 0
        func check() -> Bool {
            guard digits.count >= 13 else { return false }
            for start in 0..<digits.count {
                for length in 13...19 where start + length <= digits.count {
                    if luhn(digits[start..<start + length]) { return true }
                }
            }
            return false
        }
        for scalar in text.unicodeScalars {
            if scalar.properties.numericType == .decimal, let value = scalar.properties.numericValue {
                digits.append(UInt8(value))
                separators = 0
            } else if [" ", "-", "\u{00A0}", "\u{2013}", "\u{2014}"].contains(scalar) && !digits.isEmpty && separators < 3 {
                separators += 1
            } else {
                if check() { return true }
                digits.removeAll()
                separators = 0
            }
        }
        return check()
    }

    static func luhn(_ digits: ArraySlice<UInt8>) -> Bool {
        var sum = 0
        for (i, d) in digits.reversed().enumerated() {
            var v = Int(d)
            if i % 2 == 1 {
                v *= 2
                if v > 9 { v -= 9 }
            }
            sum += v
        }
        return sum % 10 == 0
    }

    /// Plain text fields: not empty, not too long, no control characters, no card numbers.
    static func text(_ value: String, field: String, maximum: Int = 512) throws -> String {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.utf8.count <= maximum else {
            throw CofferError(.invalidPII, "\(field) must be 1 to \(maximum) bytes of text")
        }
        guard !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw CofferError(.invalidPII, "\(field) must not contain control characters")
        }
        try refuseCardNumbers(trimmed, field: field)
        return trimmed
    }

    /// An email address (addr-spec with a dotted domain), normalised: trimmed, domain lower-cased.
    static func email(_ value: String) throws -> String {
        let address = try text(value, field: "email", maximum: 254)
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        let localAllowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.!#$%&'*+/=?^_`{|}~-")
        let domainAllowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
        guard parts.count == 2, let local = parts.first, let domain = parts.last,
              !local.isEmpty, local.count <= 64, !local.hasPrefix("."), !local.hasSuffix("."), !local.contains(".."),
              local.unicodeScalars.allSatisfy(localAllowed.contains),
              domain.contains("."), !domain.hasPrefix("."), !domain.hasSuffix("."), !domain.contains(".."),
              domain.unicodeScalars.allSatisfy(domainAllowed.contains),
              domain.split(separator: ".").allSatisfy({ !$0.hasPrefix("-") && !$0.hasSuffix("-") && $0.count <= 63 }) else {
            throw CofferError(.invalidPII, "email is not a valid address (local-part@domain.tld)")
        }
        return "\(local)@\(domain.lowercased())"
    }

    /// The lookup form of an email: the whole address lower-cased.
    static func emailKey(_ normalised: String) -> String { normalised.lowercased() }

    /// An IPv4 or IPv6 address, in its canonical text form.
    static func ipAddress(_ value: String) throws -> String {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        var v4 = in_addr(), v6 = in6_addr()
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        func text(_ buffer: [CChar]) -> String {
            String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        if inet_pton(AF_INET, trimmed, &v4) == 1, inet_ntop(AF_INET, &v4, &buffer, socklen_t(buffer.count)) != nil {
            return text(buffer)
        }
        if inet_pton(AF_INET6, trimmed, &v6) == 1, inet_ntop(AF_INET6, &v6, &buffer, socklen_t(buffer.count)) != nil {
            return text(buffer)
        }
        throw CofferError(.invalidPII, "ip is not a valid IPv4 or IPv6 address")
    }

    /// Exactly four digits.
    static func last4(_ value: String) throws -> String {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        guard trimmed.count == 4, trimmed.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            throw CofferError(.invalidPII, "last4 must be exactly 4 digits (the last four of the card, never more)")
        }
        return trimmed
    }
}
