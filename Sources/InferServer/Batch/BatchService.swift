import Foundation
import Gateway
import Logging

/// The Batch API's parts for one server: the store in `directory` and the runner that executes batches
/// through the gateway as their owners (`BatchExecutor`). `buildApplication` serves its routes; the server
/// starts the runner once it listens (resuming unfinished batches) and stops it before the engine shuts down.
struct BatchService: Sendable {
    let store: BatchStore
    let runner: BatchRunner

    init(directory: String, concurrency: Int, server: OpenAIServer, gateway: GatewayBuild, logger: Logger) {
        store = BatchStore(directory: directory)
        let pipeline = gateway.pipeline
        let executor = BatchExecutor(
            routes: GatewayRoute(server: server, gateway: pipeline),
            embeddings: EmbeddingsRoute(server: server, embedders: gateway.embedders, cache: pipeline.cache, gateway: pipeline),
            logger: logger)
        let keys = server.keys
        runner = BatchRunner(store: store, concurrency: concurrency, logger: logger,
                             resolveOwner: { keys.caller(spendID: $0) },
                             execute: { line, caller in await executor.run(line, caller: caller) })
    }

    /// Where batches live when neither `--batch-dir` nor `general_settings.batch_dir` says:
    /// `$XDG_DATA_HOME/infer/batches`, else `~/.local/share/infer/batches`.
    static var defaultDirectory: String {
        let env = ProcessInfo.processInfo.environment
        let base = env["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".local/share")
        return ((base as NSString).appendingPathComponent("infer") as NSString).appendingPathComponent("batches")
    }
}
