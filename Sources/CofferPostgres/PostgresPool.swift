import CofferCrypto
import Foundation
import Logging
import NIOSSL
import PostgresNIO

/// One PostgreSQL database reached through a pool of connections (postgres-nio's
/// `PostgresClient`), run for as long as this object lives, and migrated to the schema its
/// caller names. The PII database and the content database are two of these, with two roles
/// (P2: the credentials of one do not open the other).
public final class PostgresPool: Sendable {
    /// Where it is.
    public let address: PostgresAddress
    let client: PostgresClient
    private let runner: Task<Void, Never>

    /// Connects: one connection is opened at once, so a wrong address, role or password fails
    /// here with the server's answer (a pool would keep retrying it); then the pool takes over,
    /// with at most `maximumConnections`.
    /// - Throws: `CofferError` `accessDenied` for a refused login, `storage` for a server that
    ///   cannot be reached, `io` for a root certificate file that cannot be read.
    public static func open(_ address: PostgresAddress, maximumConnections: Int = 8,
                            logger: Logger = Logger(label: "coffer.postgres")) async throws -> PostgresPool {
        let tls = try tlsConfiguration(address)
        var probe = PostgresConnection.Configuration(host: address.host, port: address.port, username: address.user, password: address.password,
                                                     database: address.database, tls: .disable)
        if let tls {
            let context = try NIOSSLContext(configuration: tls)
            probe.tls = address.tlsMode == .prefer ? .prefer(context) : .require(context)
        }
        probe.options.connectTimeout = .seconds(10)
        if let schema = address.schema { probe.options.additionalStartupParameters = [("search_path", schema)] }
        do {
            let connection = try await PostgresConnection.connect(configuration: probe, id: 0, logger: logger)
            try await connection.close()
        } catch let error as PSQLError {
            throw translate(error, address: address)
        } catch {
            throw CofferError(.storage, "PostgreSQL \(address) could not be reached: \(type(of: error))")
        }
        return PostgresPool(address, tls: tls, maximumConnections: maximumConnections, logger: logger)
    }

    private init(_ address: PostgresAddress, tls: TLSConfiguration?, maximumConnections: Int, logger: Logger) {
        self.address = address
        let mode: PostgresClient.Configuration.TLS = tls.map { address.tlsMode == .prefer ? .prefer($0) : .require($0) } ?? .disable
        var configuration = PostgresClient.Configuration(host: address.host, port: address.port, username: address.user,
                                                         password: address.password, database: address.database, tls: mode)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(10)
        if let schema = address.schema { configuration.options.additionalStartupParameters = [("search_path", schema)] }
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        runner = Task { await client.run() }
    }

    deinit { runner.cancel() }

    /// Stops the pool; queries fail afterwards.
    public func close() { runner.cancel() }

    /// The TLS of `address`'s `sslmode` (nil: none).
    private static func tlsConfiguration(_ address: PostgresAddress) throws -> TLSConfiguration? {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch address.tlsMode {
        case .disable: return nil
        case .prefer, .require: configuration.certificateVerification = .none
        case .verifyCA, .verifyFull:
            configuration.certificateVerification = address.tlsMode == .verifyFull ? .fullVerification : .noHostnameVerification
            guard let file = address.rootCertificateFile, let roots = try? NIOSSLCertificate.fromPEMFile(file) else {
                throw CofferError(.io, "cannot read the root certificates in sslrootcert")
            }
            configuration.trustRoots = .certificates(roots)
        }
        return configuration
    }

    /// Runs `body` on one connection, translating what fails into `CofferError`s that name the
    /// database (never a password or a value).
    public func withConnection<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        do {
            return try await client.withConnection(body)
        } catch let error as CofferError {
            throw error
        } catch let error as PSQLError {
            throw Self.translate(error, address: address)
        } catch {
            throw CofferError(.storage, "PostgreSQL \(address) failed: \(type(of: error))")
        }
    }

    /// Runs `body` in one transaction (rolled back when it throws).
    public func withTransaction<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await withConnection { connection in
            try await connection.query("BEGIN", logger: Self.quiet)
            do {
                let result = try await body(connection)
                try await connection.query("COMMIT", logger: Self.quiet)
                return result
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: Self.quiet)
                throw error
            }
        }
    }

    static let quiet = Logger(label: "coffer.postgres.query")

    /// A `PSQLError` as a `CofferError`: the SQLSTATE and the server's message, which names
    /// objects and never holds a bound value.
    static func translate(_ error: PSQLError, address: PostgresAddress) -> CofferError {
        if let fields = error.serverInfo {
            let state = fields[.sqlState] ?? "?"
            let message = fields[.message] ?? ""
            let code: CofferError.Code = ["28P01", "28000", "42501"].contains(state) ? .accessDenied : .storage
            return CofferError(code, "PostgreSQL \(address) refused: \(state) \(message)")
        }
        return CofferError(.storage, "PostgreSQL \(address) could not be reached or failed: \(error.code)")
    }
}
