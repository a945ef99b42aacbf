import AsyncHTTPClient
import CofferCrypto
import CofferS3
import Foundation
import NIOCore
import NIOHTTP1

/// An S3-compatible object store: immutable objects under keys below a prefix, written whole,
/// read whole or by byte range, deleted, listed. Every request is signed with Signature V4
/// (`CofferS3`) and retried per ``RetryPolicy``. Errors are `CofferError`s that name the
/// operation, the key and the server's answer, never a credential.
public final class S3ObjectStore: Sendable {
    /// Where the objects are.
    public let location: S3Location
    private let signer: SigV4
    private let client: HTTPClient
    private let retry: RetryPolicy
    /// The most a get collects (its range, or this for a whole object).
    private let maximumObjectBytes: Int

    /// - Parameters:
    ///   - location: The endpoint, bucket and prefix.
    ///   - credentials: Who signs.
    ///   - client: The HTTP client (the process-wide shared one unless given).
    ///   - retry: How failures are retried.
    ///   - maximumObjectBytes: The largest object a whole-object get reads (64 MiB unless given).
    public init(location: S3Location, credentials: S3Credentials, client: HTTPClient = .shared, retry: RetryPolicy = RetryPolicy(),
                maximumObjectBytes: Int = 64 << 20) throws {
        self.location = location
        self.signer = try SigV4(region: location.region, credentials: credentials)
        self.client = client
        self.retry = retry
        self.maximumObjectBytes = maximumObjectBytes
    }

    /// Stores `bytes` under `key`, its SHA-256 signed, so a body changed on the way is refused.
    public func put(_ key: String, bytes: [UInt8]) async throws {
        _ = try await send("PUT", key: key, body: bytes, expect: [200])
    }

    /// The object under `key`, or the bytes of `range` in it.
    /// - Throws: `CofferError` `notFound` when there is no such object.
    public func get(_ key: String, range: ClosedRange<Int64>? = nil) async throws -> [UInt8] {
        let headers = range.map { [S3Header("range", "bytes=\($0.lowerBound)-\($0.upperBound)")] } ?? []
        let limit = range.map { Int(min(Int64(Int.max), $0.upperBound - $0.lowerBound + 1)) } ?? maximumObjectBytes
        return try await send("GET", key: key, headers: headers, expect: range == nil ? [200] : [206, 200], collect: limit).body
    }

    /// Deletes the object under `key` (nothing happens when there is none).
    public func delete(_ key: String) async throws {
        _ = try await send("DELETE", key: key, expect: [204, 200])
    }

    /// One page of the keys under `prefix` (below the store's prefix), in key order.
    public func list(prefix: String = "", continuationToken: String? = nil, maxKeys: Int = 1000) async throws -> S3ListPage {
        var query = [URLQueryItem(name: "list-type", value: "2"), URLQueryItem(name: "prefix", value: location.prefix + prefix),
                     URLQueryItem(name: "max-keys", value: String(maxKeys))]
        if let continuationToken { query.append(URLQueryItem(name: "continuation-token", value: continuationToken)) }
        let answer = try await send("GET", key: nil, query: query, expect: [200], collect: 16 << 20)
        let reader = S3XMLReader()
        guard reader.parse(Data(answer.body)) else { throw CofferError(.storage, "the object store's listing of \(location) is not well-formed XML") }
        let objects = reader.objects.map { S3ObjectInfo(key: String($0.key.dropFirst(location.prefix.count)), size: $0.size) }
        return S3ListPage(objects: objects, continuationToken: reader.truncated ? reader.nextToken : nil)
    }

    /// Creates the bucket (tests and first setup); an existing bucket of the caller's is fine.
    public func createBucket() async throws {
        _ = try await send("PUT", key: nil, expect: [200, 409])
    }

    // MARK: Requests

    private struct Answer {
        let status: Int
        let body: [UInt8]
    }

    private func send(_ method: String, key: String?, query: [URLQueryItem] = [], headers: [S3Header] = [], body: [UInt8]? = nil,
                      expect: Set<Int>, collect limit: Int = 1 << 20) async throws -> Answer {
        if let key { try Self.checkKey(key) }
        let path = "/" + location.bucket + (key.map { "/" + location.prefix + $0 } ?? "")
        let request = try S3Request(method: method, scheme: location.scheme == "http" ? .http : .https, host: location.host, port: location.port,
                                    path: path, query: query, headers: headers)
        let payload = try body.map { try PayloadHash.sha256(of: $0) } ?? .emptyBody
        let what = "\(method) \(key.map { DisplaySafe.text($0) } ?? location.bucket)"
        var attempt = 1
        while true {
            do {
                let answer = try await once(request, payload: payload, body: body, collect: limit)
                if expect.contains(answer.status) { return answer }
                if answer.status == 404 { throw Final(CofferError(.notFound, "the object store has no \(what) (\(Self.code(answer.body) ?? "404"))")) }
                let failure = CofferError(.storage, "the object store refused \(what): HTTP \(answer.status) \(Self.code(answer.body) ?? "")")
                guard answer.status >= 500 || answer.status == 429 else { throw Final(failure) }
                guard attempt < retry.attempts else { throw failure }
            } catch let final as Final {
                throw final.error
            } catch let error as CofferError {
                guard attempt < retry.attempts else { throw error }
            } catch {
                guard attempt < retry.attempts else {
                    throw CofferError(.storage, "the object store did not answer \(what) after \(attempt) attempts: \(Self.transport(error))")
                }
            }
            attempt += 1
            try await Task.sleep(for: retry.delay(before: attempt))
        }
    }

    /// A failure that is not retried.
    private struct Final: Error {
        let error: CofferError
        init(_ error: CofferError) { self.error = error }
    }

    private func once(_ request: S3Request, payload: PayloadHash, body: [UInt8]?, collect limit: Int) async throws -> Answer {
        let signature = try signer.sign(request, payload: payload)
        var http = HTTPClientRequest(url: request.url)
        http.method = HTTPMethod(rawValue: request.method)
        for header in request.headers + signature.headers { http.headers.add(name: header.name, value: header.value) }
        if let body {
            http.headers.add(name: "content-length", value: String(body.count))
            http.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await client.execute(http, timeout: .nanoseconds(retry.timeout.components.seconds * 1_000_000_000
                                                                                  + retry.timeout.components.attoseconds / 1_000_000_000))
        // Into one buffer of the announced length (no growing and copying a ByteBuffer).
        let capacity = response.headers.first(name: "content-length").flatMap(Int.init).map { min($0, max(limit, 64 << 10)) } ?? 0
        var body: [UInt8] = []
        body.reserveCapacity(capacity)
        for try await chunk in response.body {
            guard body.count + chunk.readableBytes <= max(limit, 64 << 10) else {
                throw CofferError(.storage, "the object store's answer is longer than \(max(limit, 64 << 10)) bytes")
            }
            body.append(contentsOf: chunk.readableBytesView)
        }
        return Answer(status: Int(response.status.code), body: body)
    }

    /// A key as the store takes it: 1-900 bytes of UTF-8 without control characters, no `..`
    /// segment, not starting with `/`.
    static func checkKey(_ key: String) throws {
        guard !key.isEmpty, key.utf8.count <= 900, !key.hasPrefix("/"), !key.split(separator: "/").contains(".."),
              !key.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            throw CofferError(.invalidArgument, "an object key is 1-900 bytes without control characters, '..' segments or a leading '/'")
        }
    }

    private static func code(_ body: [UInt8]) -> String? {
        let reader = S3XMLReader()
        return reader.parse(Data(body)) ? reader.code : nil
    }

    private static func transport(_ error: any Error) -> String {
        String(describing: error).prefix(200).description
    }
}
