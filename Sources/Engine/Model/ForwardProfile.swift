import Foundation

/// Wall-clock time per stage of `Transformer.forward`, summed over every call of the process, when the
/// environment has `INFER_PROFILE=1`; printed to stderr at exit (one table, milliseconds and shares).
/// Off (nil) otherwise: the forward pass then pays one nil check per stage.
///
/// NOTE: a debugging aid for where prefill time goes (issue 18's profile table): perf is not available on
/// the benchmark machines. Stages are timed on the thread that runs `forward` around each parallel region,
/// so a stage's time includes waiting for the slowest worker.
/// `@unchecked Sendable`: only the thread that owns the `Transformer` writes (one forward at a time); the
/// exit handler reads after the work is done.
public final class ForwardProfile: @unchecked Sendable {
    /// What a span of the forward pass was spent on.
    public enum Stage: Int, CaseIterable, Sendable {
        case quantize = 0, matmul, attention, ffnActivation, outputHead, other
        var label: String {
            switch self {
            case .quantize: return "activation quantization + packing"
            case .matmul: return "layer matmuls (q, k, v, o, gate, up, down)"
            case .attention: return "attention (scores, softmax, P·V)"
            case .ffnActivation: return "GeGLU / SwiGLU"
            case .outputHead: return "output head (norm + logits matmul)"
            case .other: return "norms, RoPE, KV writes, residuals, embedding"
            }
        }
    }

    private var nanos = [UInt64](repeating: 0, count: Stage.allCases.count)
    private var total: UInt64 = 0
    private var calls = 0, tokens = 0

    /// The profile of this process when `INFER_PROFILE=1`, else nil.
    static func fromEnvironment() -> ForwardProfile? {
        guard ProcessInfo.processInfo.environment["INFER_PROFILE"] == "1" else { return nil }
        let p = ForwardProfile()
        Self.active.append(p)
        if Self.active.count == 1 {
            atexit {
                for p in ForwardProfile.active { FileHandle.standardError.write(Data(p.report().utf8)) }
            }
        }
        return p
    }

    nonisolated(unsafe) private static var active: [ForwardProfile] = []

    @inline(__always) static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    /// Adds the time since `start` to `stage` and returns the current time.
    @discardableResult
    func add(_ stage: Stage, since start: UInt64) -> UInt64 {
        let t = Self.now()
        nanos[stage.rawValue] += t - start
        return t
    }

    /// Records one forward call of `rows` tokens that took the time since `start`.
    func finish(rows: Int, since start: UInt64) {
        total += Self.now() - start
        calls += 1
        tokens += rows
    }

    /// The table: stage, milliseconds, share of the forward time; "other" is the time no stage claimed.
    public func report() -> String {
        var n = nanos
        n[Stage.other.rawValue] = total - nanos.reduce(0, +)
        var s = "INFER_PROFILE: \(calls) forward calls, \(tokens) tokens, \(String(format: "%.1f", Double(total) / 1e6)) ms\n"
        for stage in Stage.allCases {
            let ns = n[stage.rawValue]
            let label = stage.label.padding(toLength: 46, withPad: " ", startingAt: 0)
            s += "  " + label + String(format: " %10.1f ms  %5.1f%%\n", Double(ns) / 1e6,
                                       total > 0 ? 100 * Double(ns) / Double(total) : 0)
        }
        return s
    }
}
