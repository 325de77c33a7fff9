import Engine
import Foundation
import OpenAIRequest
import Synchronization

/// The LoRA adapters the local engine serves, by the name clients use as `model` (vLLM's `--lora-modules`
/// and `/v1/load_lora_adapter`). Each is a variant of the served base model: `/v1/models` lists it with
/// `parent` = the base, and a request naming it runs on the base with the adapter's update.
///
/// Unloading removes the name; requests already running keep their reference to the adapter and finish
/// under it (the adapter lives as long as its last request), so an unload never changes an answer midway.
/// Their KV blocks carry the adapter's content digest: no other adapter or the base can reach them, and
/// they are evicted like any unreferenced block (loading the same file again reuses them).
final class LoRARegistry: Sendable {
    /// Most adapters served at once (each costs its f32 factors in memory).
    static let maxAdapters = 64
    /// Longest adapter name (bytes).
    static let maxNameBytes = 256

    private let config: ModelConfig
    private let baseName: String
    private let maxBytes: Int
    private let adapters = Mutex<[(name: String, adapter: LoRAAdapter)]>([])

    init(config: ModelConfig, baseName: String, maxBytes: Int = LoRAAdapter.defaultMaxBytes) {
        self.config = config
        self.baseName = baseName
        self.maxBytes = maxBytes
    }

    /// Names in load order.
    var names: [String] { adapters.withLock { $0.map(\.name) } }

    func adapter(named name: String) -> LoRAAdapter? {
        adapters.withLock { list in list.first { $0.name == name }?.adapter }
    }

    /// Loads and validates `path` under `name` (400 naming the problem: bad name, taken name, bad file).
    /// The file is read off the caller's thread by the caller (`CPUWork`), it may be large.
    @discardableResult
    func load(name: String, path: String) throws -> LoRAAdapter {
        try Self.checkName(name)
        guard name != baseName else {
            throw OpenAIError.invalidRequest("The adapter name '\(name)' is the base model's name.", param: "lora_name")
        }
        guard adapter(named: name) == nil else {
            throw OpenAIError.invalidRequest("The LoRA adapter '\(name)' has already been loaded.", param: "lora_name")
        }
        guard !path.isEmpty, path.utf8.count <= 4096, !path.utf8.contains(0) else {
            throw OpenAIError.invalidRequest("'lora_path' must be a file path.", param: "lora_path")
        }
        let adapter: LoRAAdapter
        do {
            adapter = try LoRAAdapter(path: path, config: config, maxBytes: maxBytes)
        } catch let e as EngineError {
            throw OpenAIError.invalidRequest("Cannot load the LoRA adapter: \(e.description).", param: "lora_path")
        }
        try adapters.withLock { list in
            guard !list.contains(where: { $0.name == name }) else {
                throw OpenAIError.invalidRequest("The LoRA adapter '\(name)' has already been loaded.", param: "lora_name")
            }
            guard list.count < Self.maxAdapters else {
                throw OpenAIError.invalidRequest("At most \(Self.maxAdapters) LoRA adapters can be loaded.", param: "lora_name")
            }
            list.append((name, adapter))
        }
        return adapter
    }

    /// Removes `name` (404 when it is not loaded); returns its adapter when no other name serves the same file (then nothing can reach
    /// its prefix blocks any more and the caller drops them), nil when another name still does.
    @discardableResult
    func unload(name: String) throws -> LoRAAdapter? {
        let (removed, orphaned) = adapters.withLock { list -> (LoRAAdapter?, Bool) in
            guard let index = list.firstIndex(where: { $0.name == name }) else { return (nil, false) }
            let adapter = list.remove(at: index).adapter
            return (adapter, !list.contains { $0.adapter.contentDigest == adapter.contentDigest })
        }
        guard let removed else {
            throw OpenAIError(status: .notFound, message: "The LoRA adapter '\(name)' is not loaded.",
                              type: "invalid_request_error", param: "lora_name", code: "lora_not_found")
        }
        return orphaned ? removed : nil
    }

    static func checkName(_ name: String) throws {
        guard !name.isEmpty, name.utf8.count <= maxNameBytes,
              !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw OpenAIError.invalidRequest(
                "'lora_name' must be 1 to \(maxNameBytes) bytes without control characters.", param: "lora_name")
        }
    }
}
