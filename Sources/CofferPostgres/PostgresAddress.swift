import CofferCrypto
import Foundation

/// A PostgreSQL database as libpq names one: `postgres://USER@HOST[:PORT]/DB[?sslmode=...]`.
/// The password never comes from the URL (it would be on a command line and in `ps`): it comes
/// from `PGPASSWORD`, or a file (`passfile` in the query, or ``init(parsing:environment:)``'s
/// `PGPASSFILE`), whose first line is the password.
public struct PostgresAddress: Sendable, Hashable, CustomStringConvertible {
    /// libpq's `sslmode`.
    public enum TLSMode: String, Sendable, Hashable, CaseIterable {
        /// No TLS.
        case disable
        /// TLS if the server offers it, unverified (libpq's `allow` is taken as this).
        case prefer
        /// TLS, the certificate not verified.
        case require
        /// TLS, the certificate verified against `sslrootcert`, the host name not.
        case verifyCA = "verify-ca"
        /// TLS, the certificate and the host name verified.
        case verifyFull = "verify-full"
    }

    /// The server's host name or address.
    public let host: String
    /// The server's port.
    public let port: Int
    /// The role to log in as.
    public let user: String
    /// The database.
    public let database: String
    /// How the connection is protected.
    public let tlsMode: TLSMode
    /// CA certificates (PEM) for `verify-ca` and `verify-full`.
    public let rootCertificateFile: String?
    /// The schema Coffer's tables are in (`schema=NAME`, Coffer's own option; nil: the role's
    /// default search path).
    public let schema: String?
    /// The password, if any (kept out of ``description``).
    let password: String?

    /// Reads a URL and takes the password from `environment` (`PGPASSWORD`, else the file named
    /// by `passfile` or `PGPASSFILE`).
    /// - Throws: `CofferError` `invalidArgument` for a malformed URL or a password inside it,
    ///   `io` for a password file that cannot be read.
    public init(parsing text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard let url = URLComponents(string: text), ["postgres", "postgresql"].contains(url.scheme?.lowercased() ?? "") else {
            throw CofferError(.invalidArgument, "a PostgreSQL vault is postgres://USER@HOST[:PORT]/DATABASE")
        }
        guard url.password == nil else {
            throw CofferError(.invalidArgument, "the URL holds a password: it would be visible on the command line; give it in PGPASSWORD or a file (passfile=FILE, PGPASSFILE)")
        }
        guard let user = url.user, !user.isEmpty, let host = url.host, !host.isEmpty else {
            throw CofferError(.invalidArgument, "a PostgreSQL URL names a user and a host: postgres://USER@HOST[:PORT]/DATABASE")
        }
        let database = String(url.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else { throw CofferError(.invalidArgument, "a PostgreSQL URL names one database: .../DATABASE") }
        var options: [String: String] = [:]
        for item in url.queryItems ?? [] {
            guard ["sslmode", "sslrootcert", "passfile", "schema"].contains(item.name), let value = item.value else {
                throw CofferError(.invalidArgument, "unknown PostgreSQL URL option '\(item.name)'; known: sslmode, sslrootcert, passfile, schema")
            }
            options[item.name] = value
        }
        let mode = options["sslmode"].map { $0 == "allow" ? "prefer" : $0 } ?? "prefer"
        guard let tlsMode = TLSMode(rawValue: mode) else {
            throw CofferError(.invalidArgument, "sslmode must be one of disable, allow, prefer, require, verify-ca, verify-full")
        }
        if [.verifyCA, .verifyFull].contains(tlsMode), options["sslrootcert"] == nil {
            throw CofferError(.invalidArgument, "sslmode=\(mode) verifies the server against sslrootcert=FILE, which is missing")
        }
        self.host = host
        self.port = url.port ?? 5432
        self.user = user
        self.database = database
        self.tlsMode = tlsMode
        self.rootCertificateFile = options["sslrootcert"]
        if let schema = options["schema"] {
            let bytes = Array(schema.utf8)
            guard (1...63).contains(bytes.count), bytes.allSatisfy({ (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || $0 == UInt8(ascii: "_")
                                                                    || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
                  !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[0]) else {
                throw CofferError(.invalidArgument, "schema must be 1-63 lower-case letters, digits and '_', not starting with a digit")
            }
        }
        self.schema = options["schema"]
        if let password = environment["PGPASSWORD"], !password.isEmpty {
            self.password = password
        } else if let file = options["passfile"] ?? environment["PGPASSFILE"] {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw CofferError(.io, "cannot read the password file \(file)")
            }
            self.password = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)
        } else {
            self.password = nil
        }
    }

    /// The same database as another role, with that role's password.
    public func with(user: String, password: String?) -> PostgresAddress {
        PostgresAddress(host: host, port: port, user: user, database: database, tlsMode: tlsMode, rootCertificateFile: rootCertificateFile,
                        schema: schema, password: password)
    }

    /// The same server and role, another database.
    public func withDatabase(_ database: String) -> PostgresAddress {
        PostgresAddress(host: host, port: port, user: user, database: database, tlsMode: tlsMode, rootCertificateFile: rootCertificateFile,
                        schema: schema, password: password)
    }

    private init(host: String, port: Int, user: String, database: String, tlsMode: TLSMode, rootCertificateFile: String?, schema: String?,
                 password: String?) {
        (self.host, self.port, self.user, self.database, self.tlsMode, self.rootCertificateFile, self.schema, self.password)
            = (host, port, user, database, tlsMode, rootCertificateFile, schema, password)
    }

    /// `postgres://user@host:port/database?sslmode=...`, never the password.
    public var description: String {
        "postgres://\(user)@\(host):\(port)/\(database)?sslmode=\(tlsMode.rawValue)" + (schema.map { "&schema=\($0)" } ?? "")
    }
}
