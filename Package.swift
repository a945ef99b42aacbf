// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Coffer",
    platforms: [.macOS(.v14)],
    products: [
        // The backend imports both: `Coffer` (the vault) and `CofferCrypto` (keyrings, errors,
        // the streaming format), which `Coffer`'s public API uses.
        .library(name: "Coffer", targets: ["Coffer"]),
        .library(name: "CofferCrypto", targets: ["CofferCrypto"]),
        .executable(name: "coffer", targets: ["coffer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift.git", exact: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", exact: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", exact: "2.13.0"),
        // The ZIP container of `dsr export` (docs/architecture.md, Dependencies).
        .package(url: "https://github.com/weichsel/ZIPFoundation.git", exact: "0.9.20"),
        // The object-store engine's HTTP client (issue 11); only `CofferObjectStore` uses it.
        .package(url: "https://github.com/swift-server/async-http-client.git", exact: "1.37.0"),
        // The PostgreSQL engine's client (issue 11); only `CofferPostgres` uses it.
        .package(url: "https://github.com/vapor/postgres-nio.git", exact: "1.33.2"),
        // Only for `swift package generate-documentation --target Coffer`; no target depends on it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin.git", exact: "1.5.0"),
    ],
    targets: [
        // Layer 0: libcrypto as a system library (Debian: libssl-dev).
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]
        ),
        // Layer 1: the few C helpers Swift cannot express directly (macros, OSSL_PARAM arrays).
        .target(name: "CCofferShims", dependencies: ["COpenSSL"]),
        // Layer 2: owning Swift types over OpenSSL handles; the streaming format.
        .target(name: "CofferCrypto", dependencies: ["COpenSSL", "CCofferShims"]),
        // The stores' databases on either engine: the SQL both SQLite and PostgreSQL speak, rows
        // read without trusting them, and the SQLite engine (GRDB). PostgreSQL's is `CofferPostgres`.
        .target(
            name: "CofferSQL",
            dependencies: ["CofferCrypto", .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "GRDBSQLite", package: "GRDB.swift")]
        ),
        // Layer 3: the public library the platform backend embeds.
        .target(
            name: "Coffer",
            dependencies: [
                "CofferCrypto", "CofferSQL",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]
        ),
        // AWS Signature Version 4 for S3-compatible object storage (issue 11, docs/scale-out.md). Only
        // the signer so far; no other target depends on it, so the embedded core builds without it.
        .target(name: "CofferS3", dependencies: ["CofferCrypto"]),
        // S3-compatible object storage over async-http-client, signed by `CofferS3`: puts, range
        // gets, deletes, listings, retries. Its own target, so the embedded core builds without it.
        .target(
            name: "CofferObjectStore",
            dependencies: ["CofferS3", "CofferCrypto", .product(name: "AsyncHTTPClient", package: "async-http-client")]
        ),
        // PostgreSQL through postgres-nio: addresses as libpq names them, a pooled database with
        // transactions, migrations under an advisory lock. Its own target, like the object store.
        .target(
            name: "CofferPostgres",
            dependencies: ["CofferCrypto", "CofferSQL", .product(name: "PostgresNIO", package: "postgres-nio"),
                           .product(name: "Logging", package: "swift-log"), .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // The scale-out engine (issue 11, docs/scale-out.md): the vault's tables on PostgreSQL,
        // segments in S3-compatible object storage. The embedded core builds without it.
        .target(
            name: "CofferScaleOut",
            dependencies: ["Coffer", "CofferCrypto", "CofferSQL", "CofferPostgres", "CofferObjectStore",
                           .product(name: "Logging", package: "swift-log")]
        ),
        // Benchmark-only code (`coffer bench`): the fixed-nonce baseline GCM, the unencrypted
        // store yardstick, the unaudited vault. Not in any product; reaches the layers below
        // through `package` access only.
        .target(
            name: "CofferBench",
            dependencies: [
                "Coffer", "CofferCrypto",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Layer 4: the command-line tool, a thin client of `Coffer`.
        .executableTarget(
            name: "coffer",
            dependencies: [
                "Coffer", "CofferCrypto", "CofferBench", "CofferScaleOut", "CofferPostgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                // `coffer bench scale-out`'s rows done directly, beside the vault's.
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ]
        ),
        // Helpers the test targets share (a test target cannot import another): not in any product.
        .target(name: "CofferTestSupport", dependencies: ["CofferCrypto"], path: "Tests/CofferTestSupport"),
        .testTarget(
            name: "CofferCryptoTests",
            dependencies: ["CofferCrypto", "CofferTestSupport"],
            resources: [.copy("Resources")]
        ),
        .testTarget(
            name: "CofferTests",
            // `coffer` is built too, so the tests can run the CLI as a separate process.
            dependencies: [
                "Coffer", "CofferCrypto", "CofferSQL", "CofferTestSupport", "CofferScaleOut", "CofferScaleOutTestSupport", "coffer",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ],
            // Merkle, access-log and checkpoint vectors (scripts/make-*-vectors.py).
            resources: [.copy("Resources")]
        ),
        .testTarget(
            name: "CofferObjectStoreTests",
            // Against the S3 server .ci/run starts (COFFER_TEST_S3_*); parsing and refusals without it.
            dependencies: ["CofferObjectStore", "CofferS3", "CofferCrypto"]
        ),
        .testTarget(
            name: "CofferPostgresTests",
            // Against the PostgreSQL server .ci/run starts (COFFER_TEST_POSTGRES_*); parsing without it.
            dependencies: ["CofferPostgres", "CofferCrypto", "CofferSQL", "CofferTestSupport", .product(name: "PostgresNIO", package: "postgres-nio"),
                           .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // The CI servers for the scale-out suites (and CofferTests' run on that engine).
        .target(
            name: "CofferScaleOutTestSupport",
            dependencies: ["CofferScaleOut", "CofferCrypto", "CofferPostgres", "CofferObjectStore", "CofferS3",
                           .product(name: "PostgresNIO", package: "postgres-nio")],
            path: "Tests/CofferScaleOutTestSupport"
        ),
        .testTarget(
            name: "CofferScaleOutTests",
            // Against the PostgreSQL and S3 servers .ci/run starts; skipped without them.
            dependencies: ["CofferScaleOut", "CofferScaleOutTestSupport", "CofferTestSupport", "Coffer", "CofferCrypto", "CofferSQL", "CofferPostgres",
                           "CofferObjectStore", "CofferS3",
                           .product(name: "PostgresNIO", package: "postgres-nio")]
        ),
        .testTarget(
            name: "CofferS3Tests",
            dependencies: ["CofferS3", "CofferCrypto", "CofferTestSupport"],
            // SigV4 vectors made with botocore (scripts/make-sigv4-vectors.py).
            resources: [.copy("Resources")]
        ),
    ]
)
