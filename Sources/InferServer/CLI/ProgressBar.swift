import Foundation

/// Progress of a long command on stderr: on a terminal one line redrawn in place
/// (`[bench-prefix] rag cache on  x4 [#########-----------]  45/96`), in a log (not a terminal) one line at
/// every quarter, so CI output stays short.
struct ProgressBar {
    let label: String
    let total: Int
    private(set) var done = 0
    private var lastQuarter = 0
    private let interactive = isatty(STDERR_FILENO) == 1
    static let width = 24

    init(_ label: String, total: Int) {
        self.label = label
        self.total = max(total, 1)
    }

    mutating func advance(by n: Int = 1) {
        done = min(done + n, total)
        if interactive {
            let filled = done * Self.width / total
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: Self.width - filled)
            FileHandle.standardError.write(Data("\r\(label) [\(bar)] \(done)/\(total)".utf8))
            if done == total { FileHandle.standardError.write(Data("\n".utf8)) }
        } else {
            let quarter = done * 4 / total
            if quarter > lastQuarter {
                lastQuarter = quarter
                Console.error("\(label): \(done)/\(total)")
            }
        }
    }
}
