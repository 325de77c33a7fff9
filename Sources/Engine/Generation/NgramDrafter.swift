/// How generation drafts tokens for speculative decoding (`--speculative`).
public enum SpeculativeMode: String, Sendable, CaseIterable {
    /// Plain decoding: one token per forward pass.
    case off
    /// Prompt lookup: continue the newest earlier occurrence of the sequence's last n-gram (from the prompt
    /// or from what was generated) and verify the drafted tokens in one batched forward pass.
    case ngram

    /// What `serve` and `generate` use unless told otherwise.
    public static let defaultMode: SpeculativeMode = .ngram
}

/// Prompt-lookup drafting (no draft model): the last `n` tokens of the sequence (n from `maxNgram` down to
/// `minNgram`) are looked up among the earlier tokens, newest occurrence first, and the tokens that
/// followed that occurrence are the draft. Grounded generation (quoting, extracting, editing code) copies
/// long runs from the prompt, so most drafted tokens are accepted there; elsewhere there is usually no
/// match, and then nothing is drafted and nothing is spent.
public struct NgramDrafter: Sendable {
    public var maxNgram: Int
    public var minNgram: Int
    /// How far back the lookup searches (tokens): bounds the per-step cost on long contexts.
    public var searchWindow: Int

    public init(maxNgram: Int = 4, minNgram: Int = 2, searchWindow: Int = 16384) {
        precondition(minNgram >= 1 && maxNgram >= minNgram)
        self.maxNgram = maxNgram
        self.minNgram = minNgram
        self.searchWindow = searchWindow
    }

    /// Up to `count` tokens that followed the newest earlier occurrence of the longest matching suffix
    /// n-gram of `tokens` (empty when there is none).
    public func draft<C: RandomAccessCollection>(_ tokens: C, count: Int) -> [Int] where C.Element == Int, C.Index == Int {
        let len = tokens.count
        guard count > 0, len > minNgram else { return [] }
        let base = tokens.startIndex
        let lowest = max(0, len - 1 - searchWindow)
        for n in stride(from: min(maxNgram, len - 1), through: minNgram, by: -1) {
            // The suffix is tokens[len-n ..< len]; a match starts at s with s + n < len (strictly earlier).
            var s = len - n - 1
            while s >= lowest {
                var k = 0
                while k < n && tokens[base + s + k] == tokens[base + len - n + k] { k += 1 }
                if k == n {
                    let from = s + n
                    let upto = min(len, from + count)
                    return (from..<upto).map { tokens[base + $0] }
                }
                s -= 1
            }
        }
        return []
    }
}

/// Per-sequence draft-length control: the draft grows while everything drafted is accepted and shrinks to
/// what was accepted otherwise; when the acceptance rate over recent drafts is low, drafting pauses for a
/// while (doubling each time), so text that does not copy from its context pays almost nothing.
public struct SpeculationState: Sendable {
    public static let maxDraft = 8
    public private(set) var draftLength = 4
    public private(set) var drafted = 0
    public private(set) var accepted = 0
    /// Tokens to generate without drafting before trying again.
    private var pause = 0
    private var nextPause = 16
    /// Drafted/accepted since the last pause decision.
    private var windowDrafted = 0
    private var windowAccepted = 0

    public init() {}

    /// How many tokens to draft now (0: do not draft this step).
    public mutating func wanted() -> Int {
        if pause > 0 {
            pause -= 1
            return 0
        }
        return draftLength
    }

    /// Records a verification: `accepted` of the `drafted` tokens were kept.
    public mutating func record(drafted d: Int, accepted a: Int) {
        guard d > 0 else { return }
        drafted += d
        accepted += a
        windowDrafted += d
        windowAccepted += a
        draftLength = a == d ? min(draftLength * 2, Self.maxDraft) : max(1, a + 1)
        if windowDrafted >= 16 {
            if windowAccepted * 10 < windowDrafted * 3 {   // under 30 % accepted: pause, longer each time
                pause = nextPause
                nextPause = min(nextPause * 2, 1024)
                draftLength = 2
            } else {
                nextPause = 16
            }
            windowDrafted = 0
            windowAccepted = 0
        }
    }
}
