import Foundation
import Testing
import CofferCrypto
import CofferTestSupport
@testable import CofferS3

/// The contents of a file in this test bundle's `Resources` folder.
func resource(_ name: String) throws -> Data { try resource(name, in: .module) }

/// One case of `sigv4_vectors.json` (scripts/make-sigv4-vectors.py): the inputs and what botocore made.
struct SigV4Vector: Decodable, Sendable, CustomTestStringConvertible {
    /// What botocore computed.
    struct Expected: Decodable, Sendable {
        let url: String
        let canonicalRequest: String
        let stringToSign: String
        let amzDate: String
        let signedHeaders: String
        let signature: String
        /// Header signing only: the `host` value botocore signed, and the headers it added.
        let hostHeader: String?
        let addedHeaders: [String: String]?
    }

    let name: String
    let kind: String
    let method: String
    let scheme: String
    let host: String
    let port: Int?
    let path: String
    let query: [[String]]
    let headers: [[String]]
    let date: Double
    let region: String
    let accessKeyID: String
    let secretAccessKey: String
    let sessionToken: String?
    let body: String?
    let payloadHash: String?
    let expires: Int?
    let expected: Expected

    var testDescription: String { name }

    /// The request, made through the public initialiser.
    func request() throws -> S3Request {
        try S3Request(method: method, scheme: try #require(S3Request.Scheme(rawValue: scheme)), host: host,
                      port: port, path: path, query: query.map { URLQueryItem(name: $0[0], value: $0[1]) },
                      headers: headers.map { S3Header($0[0], $0[1]) })
    }

    /// The signer for the vector's region and credentials.
    func signer() throws -> SigV4 {
        try SigV4(region: region, credentials: S3Credentials(accessKeyID: accessKeyID, secretAccessKey: secretAccessKey,
                                                              sessionToken: sessionToken))
    }

    /// The payload hash the vector was signed with.
    func payload() throws -> PayloadHash {
        let value = try #require(payloadHash)
        return value == PayloadHash.unsigned.value ? .unsigned : try PayloadHash(hex: value)
    }
}

struct SigV4VectorFile: Decodable {
    let source: String
    let published: [String]
    let vectors: [SigV4Vector]
}

let sigV4File = try? JSONDecoder().decode(SigV4VectorFile.self, from: resource("sigv4_vectors.json"))
let headerVectors = sigV4File?.vectors.filter { $0.kind == "header" } ?? []
let presignVectors = sigV4File?.vectors.filter { $0.kind == "presign" } ?? []
