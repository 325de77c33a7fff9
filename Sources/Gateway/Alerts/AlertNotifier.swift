import CurlHTTP
import Foundation
import Logging

/// Where alerts go (`general_settings.alerting: [slack, webhook]`): Slack's incoming webhook
/// (`SLACK_WEBHOOK_URL`, body `{"text": ...}`) and a generic webhook (`alerting_args.webhook_url` or
/// `WEBHOOK_URL`, body `{"alert", "status", "subject", "message", "timestamp"}`). Each POST has a 10 s limit;
/// a failure is logged, never retried (the next repeat interval sends the alert again).
public struct AlertNotifier: Sendable {
    public enum Channel: String, Sendable, CaseIterable { case slack, webhook }

    /// (channel, URL) pairs, validated by `validURL`.
    public let targets: [(Channel, String)]
    let client: HTTPClient
    let logger: Logger

    public init(targets: [(Channel, String)], client: HTTPClient = .shared, logger: Logger) {
        self.targets = targets
        self.client = client
        self.logger = logger
    }

    /// Whether `url` may receive alerts: `http` or `https`, a host, at most 2048 characters, no spaces or
    /// control characters (a config value; it is never taken from a request).
    public static func validURL(_ url: String) -> Bool {
        guard url.utf8.count <= 2048, !url.unicodeScalars.contains(where: { $0.value <= 0x20 || $0.value == 0x7f }),
              let parts = URLComponents(string: url), let scheme = parts.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = parts.host, !host.isEmpty else { return false }
        return true
    }

    /// The body each channel gets for `n`.
    public static func body(_ n: AlertEvaluator.Notification, channel: Channel) -> JSONValue {
        let icon = n.status == .firing ? ":rotating_light:" : ":white_check_mark:"
        switch channel {
        case .slack:
            return ["text": .string("\(icon) [\(n.status.rawValue)] \(n.rule.rawValue)"
                + (n.subject.isEmpty ? "" : " (\(n.subject))") + ": \(n.message)")]
        case .webhook:
            return .object([("alert", .string(n.rule.rawValue)), ("status", .string(n.status.rawValue)),
                            ("subject", .string(n.subject)), ("message", .string(n.message)),
                            ("timestamp", .double(n.time))])
        }
    }

    /// Sends `n` to every target.
    public func send(_ n: AlertEvaluator.Notification) async {
        for (channel, url) in targets {
            let body = Array(Self.body(n, channel: channel).serialized().utf8)
            let request = HTTPClientRequest(url: url, method: "POST", headers: [("Content-Type", "application/json")],
                                            body: body, timeout: 10)
            do {
                let response = try await client.execute(request)
                _ = try? await response.collect(limit: 64 << 10)
                if !(200..<300).contains(response.head.status) {
                    logger.warning("alert \(n.rule.rawValue) to \(channel.rawValue): HTTP \(response.head.status)")
                }
            } catch {
                logger.warning("alert \(n.rule.rawValue) to \(channel.rawValue) failed: \(error)")
            }
        }
    }
}
