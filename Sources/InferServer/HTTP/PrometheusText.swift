import Engine
import Foundation

/// Prometheus exposition text, one metric family at a time (`/metrics` of the server and the gateway).
struct PrometheusText {
    private(set) var text = ""

    mutating func head(_ name: String, _ type: String, _ help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    mutating func line(_ name: String, _ labels: String, _ value: Double) {
        let v = value.rounded() == value && abs(value) < 1e15 ? String(Int(value)) : String(value)
        text += labels.isEmpty ? "\(name) \(v)\n" : "\(name){\(labels)} \(v)\n"
    }

    /// A family with one unlabeled sample.
    mutating func metric(_ name: String, _ type: String, _ help: String, _ value: Double) {
        head(name, type, help)
        line(name, "", value)
    }

    mutating func histogram(_ name: String, _ labels: String, _ h: ServerMetrics.Histogram) {
        let sep = labels.isEmpty ? "" : labels + ","
        for (b, c) in zip(h.bounds, h.counts) { line("\(name)_bucket", "\(sep)le=\"\(b)\"", Double(c)) }
        line("\(name)_bucket", "\(sep)le=\"+Inf\"", Double(h.count))
        line("\(name)_sum", labels, h.sum)
        line("\(name)_count", labels, Double(h.count))
    }

    /// A label value escaped as the exposition format requires: `\`, `"` and line feed (a label taken from
    /// a config file or a request must not be able to start a new sample line).
    static func escaped(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
