// swift-tools-version: 6.1
import Foundation
import PackageDescription

/// libFuzzer harnesses (issue 8; not built in CI). Build and run with `bench/fuzz/run`.
///
/// The main package is a path dependency two levels up. SwiftPM names a path dependency after its
/// directory, which is whatever the repository was cloned into, so the name is computed here from this
/// manifest's own path rather than written down (no symlink needed).
///
/// Each harness is an executable target whose test function is also exported as `LLVMFuzzerTestOneInput`.
/// Every target's `main.swift` hands its arguments to libFuzzer's `LLVMFuzzerRunDriver` (SwiftPM aliases `main`
/// to the module's entry point, so libFuzzer's own `main` cannot be used).
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
let infer = root.lastPathComponent.lowercased()

let package = Package(
    name: "infer-fuzz",
    platforms: [.macOS(.v14)],
    dependencies: [.package(path: "../..")],
    targets: [
        // Declares libFuzzer's LLVMFuzzerRunDriver for the harnesses' main.swift.
        .target(name: "CFuzzerDriver"),
        // GGUF parser, typed metadata accessors, tensor bounds, ModelConfig, tokenizer loading.
        .executableTarget(name: "FuzzGGUF", dependencies: [
            "CFuzzerDriver",
            .product(name: "Tensor", package: infer), .product(name: "Engine", package: infer),
        ]),
        // Gateway: OrderedJSONParser / JSONValue round trip, cache controls, cache keys, Anthropic
        // translation, cache replay (internal API: needs `-enable-testing`).
        .executableTarget(name: "FuzzJSON", dependencies: ["CFuzzerDriver", .product(name: "Gateway", package: infer)]),
        // The server's request validation (the OpenAIRequest library).
        .executableTarget(name: "FuzzOpenAIRequest", dependencies: [
            "CFuzzerDriver",
            .product(name: "OpenAIRequest", package: infer), .product(name: "Gateway", package: infer),
            .product(name: "Engine", package: infer),
        ]),
        // Gateway SSE parser.
        .executableTarget(name: "FuzzSSE", dependencies: [
            "CFuzzerDriver", .product(name: "Gateway", package: infer), .product(name: "CurlHTTP", package: infer),
        ]),
        // The Gemma SPM tokenizer from models/*.gguf and the MiniLM WordPiece tokenizer.
        .executableTarget(name: "FuzzTokenizer", dependencies: [
            "CFuzzerDriver",
            .product(name: "Tensor", package: infer), .product(name: "Engine", package: infer),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
