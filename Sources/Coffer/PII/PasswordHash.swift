import CofferCrypto
import Foundation

/// scrypt cost parameters, stored with every hash.
public struct PasswordHashParameters: Sendable, Hashable, Comparable {
    /// log2 of N.
    public let logN: Int
    /// Block size.
    public let r: Int
    /// Parallelism.
    public let p: Int

    /// Creates parameters.
    /// - Parameters:
    ///   - logN: log2 of N, the CPU and memory cost (10...20).
    ///   - r: Block size (1...32).
    ///   - p: Parallelism (1...16).
    public init(logN: Int, r: Int, p: Int) {
        self.logN = logN
        self.r = r
        self.p = p
    }

    /// N = 2^17, r = 8, p = 1 (128 MiB, the OWASP minimum for scrypt).
    public static let recommended = PasswordHashParameters(logN: 17, r: 8, p: 1)

    /// Total work, to tell whether a stored hash is weaker than today's parameters.
    var cost: Int { (1 << logN) * r * p }
    /// True when `a` costs less work than `b` (N × r × p).
    public static func < (a: PasswordHashParameters, b: PasswordHashParameters) -> Bool { a.cost < b.cost }
}

/// A salted scrypt password hash in the PHC-like text form `$scrypt$ln=17,r=8,p=1$SALT$HASH`
/// (salt and hash in unpadded base64).
enum PasswordHash {
    static func make(_ password: String, parameters: PasswordHashParameters) throws -> String {
        let salt = try SecureRandom.bytes(16)
        let derived = try derive(password, salt: salt, parameters: parameters)
        return "$scrypt$ln=\(parameters.logN),r=\(parameters.r),p=\(parameters.p)$\(base64(salt))$\(derived.withUnsafeBytes { base64(Array($0)) })"
    }

    /// Checks `password` against `stored` in constant time.
    /// - Returns: Whether it matches, and the parameters the hash was made with.
    static func verify(_ password: String, against stored: String) throws -> (matches: Bool, parameters: PasswordHashParameters) {
        let parts = stored.split(separator: "$", omittingEmptySubsequences: true)
        guard parts.count == 4, parts[0] == "scrypt" else { throw CofferError(.invalidFormat, "stored password hash has an unknown format") }
        var values: [String: Int] = [:]
        for item in parts[1].split(separator: ",") {
            let kv = item.split(separator: "=")
            guard kv.count == 2, let v = Int(kv[1]) else { throw CofferError(.invalidFormat, "stored password hash has bad parameters") }
            values[String(kv[0])] = v
        }
        guard let logN = values["ln"], let r = values["r"], let p = values["p"],
              let salt = unbase64(String(parts[2])), let expected = unbase64(String(parts[3])) else {
            throw CofferError(.invalidFormat, "stored password hash is malformed")
        }
        let parameters = PasswordHashParameters(logN: logN, r: r, p: p)
        let derived = try derive(password, salt: salt, parameters: parameters, length: expected.count)
        let matches = derived.withUnsafeBytes { d in expected.withUnsafeBytes { e in ConstantTime.equals(d, e) } }
        return (matches, parameters)
    }

    private static func derive(_ password: String, salt: [UInt8], parameters: PasswordHashParameters, length: Int = 32) throws -> SecureBytes {
        var bytes = Array(password.utf8)
        defer { bytes.withUnsafeMutableBytes { SecureBytes.wipe($0) } }
        return try bytes.withUnsafeBytes {
            try Scrypt.derive(password: $0, salt: salt, logN: parameters.logN, r: parameters.r, p: parameters.p, length: length)
        }
    }

    private static func base64(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "=", with: "")
    }

    private static func unbase64(_ text: String) -> [UInt8]? {
        let padded = text + String(repeating: "=", count: (4 - text.count % 4) % 4)
        return Data(base64Encoded: padded).map { [UInt8]($0) }
    }
}
