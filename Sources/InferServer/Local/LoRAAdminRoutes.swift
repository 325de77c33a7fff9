import Engine
import Gateway
import Hummingbird
import OpenAIRequest

/// vLLM's runtime adapter routes (master key): `POST /v1/load_lora_adapter {"lora_name", "lora_path"}` and
/// `POST /v1/unload_lora_adapter {"lora_name"}`. Success is vLLM's plain-text 200; errors are OpenAI
/// envelopes (400 bad fields, name taken or file refused; 404 unknown name; 403 without the master key).
/// Registered only when a local engine exists.
struct LoRAAdminRoutes: Sendable {
    let server: OpenAIServer
    let local: LocalEngine

    private func requireAdmin(_ context: InferRequestContext) throws {
        guard context.caller.isAdmin else {
            throw OpenAIError.forbidden("Loading and unloading LoRA adapters needs the master key.")
        }
    }

    func load(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        try requireAdmin(context)
        let f = try await server.readFields(request)
        guard let name = try f.string("lora_name") else { throw OpenAIError.badParameter("lora_name", "'lora_name' is required.") }
        guard let path = try f.string("lora_path") else { throw OpenAIError.badParameter("lora_path", "'lora_path' is required.") }
        let loras = local.loras
        // Reading and converting the file is input-sized work: off the event loop.
        _ = try await CPUWork.run { try loras.load(name: name, path: path) }
        return Self.text("Success: LoRA adapter '\(name)' added successfully.")
    }

    func unload(_ request: Request, _ context: InferRequestContext) async throws -> Response {
        try requireAdmin(context)
        let f = try await server.readFields(request)
        guard let name = try f.string("lora_name") else { throw OpenAIError.badParameter("lora_name", "'lora_name' is required.") }
        if let adapter = try local.loras.unload(name: name) {
            // Its KV blocks can never be hit again (the key is the file's digest): free them now.
            let dropped = await local.engine.dropPrefixBlocks(of: adapter)
            context.logger.info("LoRA adapter '\(name)' unloaded; \(dropped) cached prefix blocks dropped")
        }
        return Self.text("Success: LoRA adapter '\(name)' removed successfully.")
    }

    static func text(_ s: String) -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: s)))
    }
}
