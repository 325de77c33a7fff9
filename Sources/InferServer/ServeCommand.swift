import ArgumentParser
import Engine
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle

/// `infer serve`: the OpenAI-compatible HTTP server.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Serve the model over an OpenAI-compatible HTTP API.")

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "Address to bind.")
    var host = "127.0.0.1"

    @Option(name: .long, help: "Port to bind (0 = any free port; the real one is printed).")
    var port = 8080

    @Option(name: .long, help: "Model id clients use (default: the file name without .gguf).")
    var servedModelName: String?

    @Option(name: .long, help: "Require `Authorization: Bearer KEY` on the API routes.")
    var apiKey: String?

    @Option(name: .long, help: "KV cache size in tokens.")
    var kvCacheTokens = 65536

    @Option(name: .long, help: "Sequences decoding at once.")
    var maxRunning = 16

    @Option(name: .long, help: "Requests allowed to wait (more get 429).")
    var maxQueued = 256

    @Option(name: .long, help: "Largest request body in bytes (more get 413).")
    var maxBodyBytes = 16 << 20

    @Option(name: .long, help: "Seconds in-flight requests get to finish on SIGINT/SIGTERM.")
    var shutdownTimeout = 30.0

    @Option(name: .long, help: "Log level (trace, debug, info, notice, warning, error).")
    var logLevel = "info"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
        guard kvCacheTokens > 0, maxRunning > 0, maxQueued >= 0, maxBodyBytes > 0, shutdownTimeout >= 0 else {
            throw ValidationError("--kv-cache-tokens, --max-running, --max-body-bytes must be positive")
        }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("unknown --log-level \(logLevel)") }
    }

    func run() async throws {
        var logger = Logger(label: "infer.serve")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let model = try modelOptions.load(maxBatch: 128)
        let engine = try InferenceEngine(model: model, options: EngineOptions(
            kvCacheTokens: kvCacheTokens, maxBatchTokens: 128, maxRunning: maxRunning, maxQueued: maxQueued))
        let settings = ServerSettings(
            host: host, port: port,
            servedModelName: servedModelName ?? ServerSettings.defaultModelName(path: modelOptions.model),
            apiKey: apiKey, maxBodyBytes: maxBodyBytes, shutdownTimeout: shutdownTimeout)
        let server = OpenAIServer(engine: engine, settings: settings)
        let host = self.host
        let name = settings.servedModelName
        let app = buildApplication(server, logger: logger) { port in
            Console.error("[serve] model '\(name)', chat template \(server.template.rawValue)")
            Console.error("listening on http://\(host):\(port)")
        }
        var config = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint],
                                               logger: logger)
        config.maximumGracefulShutdownDuration = .milliseconds(Int64(shutdownTimeout * 1000))
        config.maximumCancellationDuration = .seconds(5)
        try await ServiceGroup(configuration: config).run()
        // The server has stopped: unfinished requests end, the engine thread exits.
        await Task.detached { engine.shutdown() }.value
        Console.error("[serve] stopped")
    }
}
