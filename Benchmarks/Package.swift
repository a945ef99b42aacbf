// swift-tools-version: 6.1
// The benchmark suite lives in its own package so that `swift test` on Coffer never builds
// package-benchmark. Run from this folder: `swift package benchmark`.
import Foundation
import PackageDescription

// A path dependency's identity is its folder's name, which depends on where Coffer was cloned.
let cofferIdentity = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().lastPathComponent.lowercased()

/// One benchmark executable in `Benchmarks/NAME`, on Coffer's public library.
func benchmarkTarget(_ name: String) -> Target {
    .executableTarget(
        name: name,
        dependencies: [
            .product(name: "Coffer", package: cofferIdentity),
            .product(name: "CofferCrypto", package: cofferIdentity),
            .product(name: "Benchmark", package: "benchmark"),
        ],
        path: "Benchmarks/\(name)",
        plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
    )
}

let package = Package(
    name: "CofferBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark.git", exact: "1.38.1", traits: ["MallocInterposer"]),
    ],
    // The streaming core; 4 KiB gets beside slow large streams; 4 KiB puts and gets, and large
    // puts and gets with peak memory (issue 12).
    targets: ["StreamingCore", "ConcurrentReads", "SmallObjects", "LargeObjects"].map(benchmarkTarget)
)
