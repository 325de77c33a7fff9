import Foundation
import KVTier
import PrefixCache
import Tensor

/// The serving engine: one dedicated thread owns the model, the paged KV pool and the prefix cache, and
/// runs continuous batching (see `Scheduler`, driven by `EngineLoop`). Callers submit requests from any task
/// and receive an `AsyncThrowingStream` of events; when the consumer stops listening, the request is
/// cancelled and its KV blocks are released at the next step. Releasing the engine shuts it down (unfinished
/// requests end with a cancellation) and waits for its thread.
public final class InferenceEngine: Sendable {
    public let model: LanguageModel
    public let options: EngineOptions
    private let loop: EngineLoop

    /// Creates the engine and starts its thread. Throws if the KV pool or prefix-cache config is invalid.
    public init(model: LanguageModel, options: EngineOptions = EngineOptions()) throws {
        self.model = model
        self.options = options
        loop = try EngineLoop(model: model, options: options)
    }

    /// Queues a request. The stream yields `.token` events and ends with `.finished`, or throws an
    /// `EngineError` (invalid request, prompt larger than the KV pool or context, overloaded, shut down).
    public func submit(_ request: GenerationRequest) -> AsyncThrowingStream<GenerationEvent, any Error> {
        loop.submit(request)
    }

    /// Drops every pin and every cached prefix block no running sequence uses (on the engine thread, between
    /// two steps); returns how many blocks were dropped. Running requests are not disturbed.
    public func resetPrefixCache() async -> Int { await loop.resetPrefixCache() }

    /// Drops the cached prefix blocks computed under `adapter` (an unloaded LoRA adapter) that no running
    /// request uses, on the engine thread between two steps; returns how many were dropped.
    public func dropPrefixBlocks(of adapter: LoRAAdapter) async -> Int { await loop.dropPrefixBlocks(of: adapter) }

    /// A snapshot of the counters (updated after every step).
    public func stats() -> EngineStats { loop.stats() }

    /// Stops the engine thread and waits for it to exit; unfinished requests end with a cancellation.
    /// Afterwards the model may be used by another engine.
    public func shutdown() { loop.shutdown() }

    deinit { loop.shutdown() }
}
