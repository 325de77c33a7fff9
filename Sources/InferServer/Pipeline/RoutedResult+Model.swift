import Gateway

extension RoutedResult {
    /// The answer with `model` set to `name` in the JSON or in every chunk: a LoRA adapter's requests run on
    /// the base model's group, and the client gets the adapter's name back (as vLLM answers).
    func reportingModel(_ name: String) -> RoutedResult {
        var copy = self
        copy.requestedModel = name
        switch result {
        case .response(let json):
            copy.result = .response(json.settingField("model", .string(name)))
        case .stream(let chunks):
            copy.result = .stream(AsyncThrowingStream<JSONValue, any Error> { continuation in
                let task = Task {
                    do {
                        for try await chunk in chunks { continuation.yield(chunk.settingField("model", .string(name))) }
                        continuation.finish()
                    } catch {
                        continuation.finish(throwing: error)
                    }
                }
                continuation.onTermination = { _ in task.cancel() }
            })
        }
        return copy
    }
}
