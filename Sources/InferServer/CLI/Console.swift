import ArgumentParser
import Engine
import Foundation

/// stdout / stderr helpers that flush immediately (streamed text must appear as it is produced).
enum Console {
    static func out(_ s: String) {
        FileHandle.standardOutput.write(Data(s.utf8))
    }

    static func error(_ s: String) {
        FileHandle.standardError.write(Data((s + "\n").utf8))
    }
}
