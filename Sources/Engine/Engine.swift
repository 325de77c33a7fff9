/// The inference engine: model architectures, tokenizers, sampling and the token loop.
public enum EngineInfo {
    public static let version = "0.1.0"
}
