// Reference: llama.cpp common/common.h `common_params_sampling` (SPEC-model.md section 5).

/// Sampling settings for one sequence, with llama-server's defaults.
///
/// Only the stages named here exist, and they always run in llama.cpp's order:
/// logit_bias -> penalties -> top_k -> top_p -> min_p -> temperature -> dist.
/// Every field has an "off" value, so a stage never needs to be removed from the chain.
public struct SamplingParameters: Sendable, Equatable, Codable {
    /// Divides the logits just before the draw; `<= 0` (or NaN) means greedy: keep only the argmax.
    public var temperature: Float = 0.8
    /// Keeps the `topK` highest logits; `<= 0` turns the stage off.
    public var topK: Int = 40
    /// Keeps the shortest most-likely prefix whose probability (at temperature 1) sums to `>= topP`;
    /// `>= 1` turns the stage off. At least one token always survives.
    public var topP: Float = 0.95
    /// Keeps tokens whose probability is at least `minP` times the largest one; `<= 0` turns it off.
    public var minP: Float = 0.05
    /// Divides positive logits and multiplies non-positive ones of tokens seen in the penalty window;
    /// 1 turns it off.
    public var repetitionPenalty: Float = 1.0
    /// Subtracted from a token's logit once per occurrence in the penalty window.
    public var frequencyPenalty: Float = 0
    /// Subtracted once from the logit of any token that occurs in the penalty window.
    public var presencePenalty: Float = 0
    /// How many of the most recently accepted tokens the penalties look at; 0 turns penalties off and a
    /// negative value means every accepted token (llama.cpp's `-1` = context size).
    public var penaltyLastN: Int = 64
    /// Added to the logit of each listed token id before any other stage; `-infinity` bans the token.
    /// Ids outside the vocabulary are ignored.
    public var logitBias: [Int: Float] = [:]
    /// Seed of the sampler's RNG; `nil` draws a fresh random seed for each `Sampler`.
    public var seed: UInt64? = nil

    /// Creates parameters; every argument defaults to llama-server's default.
    public init(
        temperature: Float = 0.8, topK: Int = 40, topP: Float = 0.95, minP: Float = 0.05,
        repetitionPenalty: Float = 1.0, frequencyPenalty: Float = 0, presencePenalty: Float = 0,
        penaltyLastN: Int = 64, logitBias: [Int: Float] = [:], seed: UInt64? = nil
    ) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
        self.frequencyPenalty = frequencyPenalty
        self.presencePenalty = presencePenalty
        self.penaltyLastN = penaltyLastN
        self.logitBias = logitBias
        self.seed = seed
    }

    /// Deterministic argmax decoding: temperature 0, top_k / top_p / min_p off, no penalties.
    public static let greedy = SamplingParameters(temperature: 0, topK: 0, topP: 1, minP: 0)

    private enum CodingKeys: String, CodingKey {
        case temperature, topK, topP, minP, repetitionPenalty, frequencyPenalty, presencePenalty
        case penaltyLastN, logitBias, seed
    }

    /// Decodes parameters; a missing key keeps its default, so partial configs are valid.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = SamplingParameters()
        temperature = try c.decodeIfPresent(Float.self, forKey: .temperature) ?? d.temperature
        topK = try c.decodeIfPresent(Int.self, forKey: .topK) ?? d.topK
        topP = try c.decodeIfPresent(Float.self, forKey: .topP) ?? d.topP
        minP = try c.decodeIfPresent(Float.self, forKey: .minP) ?? d.minP
        repetitionPenalty =
            try c.decodeIfPresent(Float.self, forKey: .repetitionPenalty) ?? d.repetitionPenalty
        frequencyPenalty = try c.decodeIfPresent(Float.self, forKey: .frequencyPenalty) ?? d.frequencyPenalty
        presencePenalty = try c.decodeIfPresent(Float.self, forKey: .presencePenalty) ?? d.presencePenalty
        penaltyLastN = try c.decodeIfPresent(Int.self, forKey: .penaltyLastN) ?? d.penaltyLastN
        logitBias = try c.decodeIfPresent([Int: Float].self, forKey: .logitBias) ?? d.logitBias
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed)
    }

    /// True when the penalties stage can change a logit (llama.cpp skips it otherwise).
    var penaltiesActive: Bool {
        penaltyLastN != 0
            && (repetitionPenalty != 1 || frequencyPenalty != 0 || presencePenalty != 0)
    }
}
