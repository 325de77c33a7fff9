// swift-tools-version: 6.1
import PackageDescription

/// Settings shared by every Swift target: Swift 6 language mode (strict concurrency), `any` spelled out.
///
/// NOTE: release builds are plain `-O` everywhere: integer overflow traps, array bounds and preconditions
/// stay on in every Swift target (parsers, the prefix cache's ref counts, the gateway, the forward pass).
/// `-Ounchecked` (which removes those checks) was measured on the only place it could matter, the Swift
/// side of the forward pass, and bought nothing measurable: the hot loops are the C kernels in `CKernels`
/// (`-O3`, unaffected by Swift flags). bench/results/engine-2026-12-05-flags.md, one interleaved run of
/// 5 rounds: pp512 770 (unchecked) vs 792 (checked) t/s, tg128 123 vs 120 t/s, spreads overlapping.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

let package = Package(
    name: "infer",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "infer", targets: ["InferServer"]),
        .library(name: "Engine", targets: ["Engine"]),
        .library(name: "Tensor", targets: ["Tensor"]),
        .library(name: "NumericCore", targets: ["NumericCore"]),
        .library(name: "PrefixCache", targets: ["PrefixCache"]),
        .library(name: "KVTier", targets: ["KVTier"]),
        .library(name: "Redis", targets: ["Redis"]),
        .library(name: "CurlHTTP", targets: ["CurlHTTP"]),
        .library(name: "Gateway", targets: ["Gateway"]),
        // The request validation of the HTTP edge, as a library so bench/fuzz can build it alone.
        .library(name: "OpenAIRequest", targets: ["OpenAIRequest"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.20.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        // Innermost SIMD loops only (AVX2 / AVX-512 VNNI intrinsics with runtime dispatch).
        .target(
            name: "CKernels",
            cSettings: [.unsafeFlags(["-O3"])]
        ),
        // Numbers every layer shares: the f32 vector kernels (over CKernels) and checked conversions of
        // outside numbers. The only Swift target besides Tensor that imports CKernels.
        .target(name: "NumericCore", dependencies: ["CKernels"], swiftSettings: swiftSettings),
        .target(name: "Tensor", dependencies: ["CKernels"], swiftSettings: swiftSettings),
        // hiredis (blocking API) for the Redis client. Debian: libhiredis-dev 0.14.
        .systemLibrary(
            name: "CHiredis",
            pkgConfig: "hiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        // libcurl (Debian libcurl4-openssl-dev) for the remote provider HTTP client.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // Prefix-cache bookkeeping: block hashing, block pool, radix tree, eviction. No numeric code.
        .target(
            name: "PrefixCache",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        // The KV tiers behind the local pool: verified block entries on disk and in Redis, a bounded write queue.
        .target(
            name: "KVTier",
            dependencies: ["PrefixCache", "Redis", "NumericCore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: swiftSettings
        ),
        .target(name: "Engine", dependencies: ["Tensor", "PrefixCache", "KVTier", "NumericCore"], swiftSettings: swiftSettings),
        // Redis client: hiredis on dedicated connection threads, pool, circuit breaker, pub/sub subscriber.
        .target(
            name: "Redis",
            dependencies: ["CHiredis", "NumericCore", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        // HTTP/1.1 client over libcurl's multi interface on one thread, and the SSE parser.
        .target(name: "CurlHTTP", dependencies: ["CCurl", "NumericCore"], swiftSettings: swiftSettings),
        // Gateway policy: OpenAI wire types, response caches, router, providers, config, keys.
        // Depends on neither Engine nor Tensor (the local engine is adapted to it in InferServer).
        .target(
            name: "Gateway",
            dependencies: [
                "Redis", "CurlHTTP", "NumericCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: swiftSettings
        ),
        // The OpenAI request as the server validates it: the error envelope, typed fields, generation
        // parameters, chat messages. HTTPTypes only (the Hummingbird rendering is in InferServer).
        .target(
            name: "OpenAIRequest",
            dependencies: ["Engine", "Gateway", .product(name: "HTTPTypes", package: "swift-http-types")],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "InferServer",
            dependencies: [
                "Engine", "Tensor", "Gateway", "OpenAIRequest", "NumericCore", "Redis", "CurlHTTP", "KVTier",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // A real redis-server per test, for every suite that talks to Redis.
        .target(name: "RedisTestSupport", dependencies: ["Redis"], path: "Tests/RedisTestSupport", swiftSettings: swiftSettings),
        .testTarget(name: "NumericCoreTests", dependencies: ["NumericCore", "CKernels"], swiftSettings: swiftSettings),
        .testTarget(name: "TensorTests", dependencies: ["Tensor"], swiftSettings: swiftSettings),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "Gateway", "Redis", "CurlHTTP", "NumericCore", "RedisTestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "PrefixCacheTests", dependencies: ["PrefixCache"], swiftSettings: swiftSettings),
        .testTarget(name: "KVTierTests", dependencies: ["KVTier", "PrefixCache", "Redis", "RedisTestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "InferServerTests",
            dependencies: [
                "InferServer", "Engine", "Gateway", "OpenAIRequest",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "EngineTests", dependencies: ["Engine", "Tensor", "PrefixCache", "NumericCore", "KVTier", "Redis", "RedisTestSupport"],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)
