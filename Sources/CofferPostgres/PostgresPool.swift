import CofferCrypto
import Foundation
import Logging
import NIOSSL
import PostgresNIO

/// One PostgreSQL database reached through a bounded pool of connections, migrated to the schema
/// its caller names. The PII database and the content database are two of these, with two roles
/// (P2: the credentials of one do not open the other). The same pool serves async callers
/// (`withConnection`, `withTransaction`) and the synchronous stores (`PostgresSQLDatabase`).
public final class PostgresPool: Sendable {
    /// Where it is.
    public let address: PostgresAddress
    let connections: PostgresConnections

    /// Connects: one connection is opened at once, so a wrong address, role or password fails
    /// here with the server's answer; then it stays in the pool, with at most
    /// `maximumConnections` open.
    /// - Throws: `CofferError` `accessDenied` for a refused login, `storage` for a server that
    ///   cannot be reached, `io` for a root certificate file that cannot be read.
    public static func open(_ address: PostgresAddress, maximumConnections: Int = 8,
                            logger: Logger = Logger(label: "coffer.postgres")) async throws -> PostgresPool {
        let pool = PostgresPool(address, configuration: try configuration(address), maximumConnections: maximumConnections, logger: logger)
        try await pool.withConnection { _ in }
        return pool
    }

    /// `open`, for callers on a blocking thread.
    public static func openSynchronously(_ address: PostgresAddress, maximumConnections: Int = 8,
                                         logger: Logger = Logger(label: "coffer.postgres")) throws -> PostgresPool {
        let pool = PostgresPool(address, configuration: try configuration(address), maximumConnections: maximumConnections, logger: logger)
        let connection = try pool.leaseSynchronously()
        pool.connections.release(connection, reusable: true)
        return pool
    }

    private init(_ address: PostgresAddress, configuration: PostgresConnection.Configuration, maximumConnections: Int, logger: Logger) {
        self.address = address
        connections = PostgresConnections(configuration: configuration, maximum: maximumConnections, logger: logger)
    }

    deinit { connections.close() }

    /// Stops the pool; queries fail afterwards.
    public func close() { connections.close() }

    /// The connection settings of `address`: TLS as its `sslmode` says, the search path of its
    /// `schema`, a 10 s connect timeout.
    private static func configuration(_ address: PostgresAddress) throws -> PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(host: address.host, port: address.port, username: address.user,
                                                             password: address.password, database: address.database, tls: .disable)
        if let tls = try tlsConfiguration(address) {
            let context = try NIOSSLContext(configuration: tls)
            configuration.tls = address.tlsMode == .prefer ? .prefer(context) : .require(context)
        }
        configuration.options.connectTimeout = .seconds(10)
        if let schema = address.schema { configuration.options.additionalStartupParameters = [("search_path", schema)] }
        return configuration
    }

    /// A connection from the pool, waited for on the calling (blocking) thread.
    func leaseSynchronously() throws -> PostgresConnection {
        do {
            return try connections.lease().wait()
        } catch {
            throw translate(error)
        }
    }

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
        let connection: PostgresConnection
        do {
            connection = try await connections.lease().get()
        } catch {
            throw translate(error)
        }
        do {
            let result = try await body(connection)
            connections.release(connection, reusable: true)
            return result
        } catch {
            connections.release(connection, reusable: !(error is PSQLError))
            throw translate(error)
        }
    }

    /// Any error of a query or a connection as the `CofferError` callers see.
    func translate(_ error: any Error) -> any Error {
        switch error {
        case let error as CofferError: return error
        case let error as PSQLError: return Self.translate(error, address: address)
        case is CancellationError: return error
        default: return CofferError(.storage, "PostgreSQL \(address) failed: \(type(of: error))")
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
