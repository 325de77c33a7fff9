/// Finds stop strings in streamed text without ever emitting any part of one.
///
/// Text is fed as it is decoded; `feed` returns what is safe to emit now. A suffix of the unsent text that
/// is a prefix of some stop string is held back until the next piece decides it. Matching is on UTF-8 bytes:
/// both the text and the stop strings are valid UTF-8, so a match or a held-back suffix always starts on a
/// character boundary.
struct StopMatcher: Sendable {
    private let stops: [[UInt8]]
    private var held: [UInt8] = []
    /// Set once a stop string was found; later input is ignored.
    private(set) var stopped = false
    /// The stop string that was found (vLLM's `stop_reason`).
    private(set) var matched: String?

    init(stops: [String]) {
        self.stops = stops.map { Array($0.utf8) }.filter { !$0.isEmpty }
    }

    /// Adds decoded text; returns the text that can be emitted and whether a stop string ended the output.
    mutating func feed(_ text: String) -> (emit: String, stopped: Bool) {
        guard !stopped else { return ("", true) }
        guard !stops.isEmpty else { return (text, false) }
        held.append(contentsOf: text.utf8)
        if case let (cut, stop)? = earliestMatch() {
            stopped = true
            matched = String(decoding: stops[stop], as: UTF8.self)
            let out = String(decoding: held[..<cut], as: UTF8.self)
            held.removeAll()
            return (out, true)
        }
        let keep = heldSuffixLength()
        let out = String(decoding: held[..<(held.count - keep)], as: UTF8.self)
        held.removeFirst(held.count - keep)
        return (out, false)
    }

    /// The end of the output: held-back text was not a stop after all.
    mutating func flush() -> String {
        defer { held.removeAll() }
        return stopped ? "" : String(decoding: held, as: UTF8.self)
    }

    /// Byte offset of the earliest occurrence of any stop string in `held`, and which stop string it is.
    private func earliestMatch() -> (Int, Int)? {
        var best: (Int, Int)?
        for (k, stop) in stops.enumerated() where stop.count <= held.count {
            var i = 0
            while i + stop.count <= held.count, best.map({ i < $0.0 }) ?? true {
                if held[i] == stop[0], held[i..<(i + stop.count)].elementsEqual(stop) {
                    best = (i, k)
                    break
                }
                i += 1
            }
        }
        return best
    }

    /// Length of the longest suffix of `held` that is a proper prefix of some stop string.
    private func heldSuffixLength() -> Int {
        var longest = 0
        for stop in stops {
            let maxLen = min(stop.count - 1, held.count)
            var len = maxLen
            while len > longest {
                if held[(held.count - len)...].elementsEqual(stop[..<len]) {
                    longest = len
                    break
                }
                len -= 1
            }
        }
        return longest
    }
}
