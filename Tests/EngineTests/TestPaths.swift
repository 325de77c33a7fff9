import Foundation

/// Locations of the repository, the shared reference data and the installed model, found from this file.
enum TestPaths {
    /// Repository root (three levels above Tests/EngineTests/TestPaths.swift).
    static let repo: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// `../shared/reference` beside the repository.
    static let reference: URL = repo.deletingLastPathComponent().appendingPathComponent("shared/reference")
    /// The Gemma model installed by `models/install`.
    static let gemma: URL = repo.appendingPathComponent("models/gemma-3-270m-q4_k_m.gguf")
    /// The test LoRA adapter written by `models/install` (models/make-test-lora.py).
    static let testLoRA: URL = repo.appendingPathComponent("models/gemma-3-270m-test-lora.gguf")

    static func referenceFile(_ folder: String, _ name: String) -> URL {
        reference.appendingPathComponent(folder).appendingPathComponent(name)
    }

    /// Path of a model used by a reference folder (the tiny models live beside their reference.json).
    static func model(for folder: String) -> URL {
        folder == "gemma3-270m" ? gemma : referenceFile(folder, "\(folder).gguf")
    }

    /// Fails with a clear message (never skips) when a required file is missing.
    static func require(_ url: URL) throws -> String {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw MissingFile(path: url.path)
        }
        return url.path
    }

    struct MissingFile: Error, CustomStringConvertible {
        let path: String
        var description: String { "missing \(path): run `models/install` (or `make test`, which installs it)" }
    }
}

/// Runs a long synchronous computation (a whole-model pass over a reference text) on a GCD thread instead
/// of Swift's cooperative pool: the pool has one thread per core, and tests that block it for tens of
/// seconds starve every other running test's `await` (a Redis start-up probe timed out that way).
func offCooperativePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}
