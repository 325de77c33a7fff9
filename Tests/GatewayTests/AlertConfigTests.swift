import Gateway
import Testing

/// `general_settings.alerting` / `alerting_args` from the config: targets resolved from the environment,
/// every value bounded.
@Suite struct AlertConfigTests {
    @Test func channelsResolveTheirURLs() throws {
        let yaml = """
        general_settings:
          alerting: [slack, webhook, email]
          alerting_args: {webhook_url: "http://127.0.0.1:9/hook", window: 60, min_requests: 5, repeat_interval: 600,
                          error_rate_threshold: 0.2, p95_latency_threshold: 2, cache_hit_rate_threshold: 0.3,
                          cost_spike_factor: 4, evaluation_interval: 1}
        """
        let (config, warnings) = try GatewayConfig.parse(
            yaml: yaml, environment: ["SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/X"])
        let g = config.generalSettings
        #expect(g.alerting.map(\.0) == [.slack, .webhook])
        #expect(g.alerting.map(\.1) == ["https://hooks.slack.com/services/T/B/X", "http://127.0.0.1:9/hook"])
        #expect(warnings == [#"general_settings.alerting: "email" is not supported (slack, webhook); ignored"#])
        var expected = AlertThresholds()
        expected.windowSeconds = 60
        expected.minSamples = 5
        expected.repeatIntervalSeconds = 600
        expected.errorRate = 0.2
        expected.p95LatencySeconds = 2
        expected.cacheHitRate = 0.3
        expected.costSpikeFactor = 4
        #expect(g.alertThresholds == expected && g.alertEvaluationInterval == 1)
        #expect(try GatewayConfig.parse(yaml: "general_settings: {alerting: [webhook]}",
                                        environment: ["WEBHOOK_URL": "http://h/x"]).0.generalSettings.alerting.map(\.1)
                == ["http://h/x"])
    }

    @Test(arguments: [
        ("general_settings: {alerting: [slack]}", "general_settings.alerting: slack needs the environment variable SLACK_WEBHOOK_URL"),
        ("general_settings: {alerting: [webhook]}",
         "general_settings.alerting: webhook needs alerting_args.webhook_url or the environment variable WEBHOOK_URL"),
        ("general_settings: {alerting: [webhook], alerting_args: {webhook_url: \"file:///etc/passwd\"}}",
         "general_settings.alerting_args.webhook_url: expected an http(s) URL of at most 2048 characters"),
        ("general_settings: {alerting_args: {error_rate_threshold: 5}}",
         "general_settings.alerting_args.error_rate_threshold: expected a number from 0.0 to 1.0, got 5.0"),
        ("general_settings: {alerting_args: {window: 0}}",
         "general_settings.alerting_args.window: expected a number from 1.0 to 3000.0, got 0.0"),
        ("general_settings: {alerting_args: {evaluation_interval: .inf}}",
         "general_settings.alerting_args.evaluation_interval: expected a finite number of magnitude at most 1e12, got inf"),
        ("general_settings: {alerting_args: {min_requests: -3}}",
         "general_settings.alerting_args.min_requests: expected a number from 1.0 to 1000000.0, got -3.0"),
    ])
    func badAlertingValuesNameTheKey(yaml: String, message: String) {
        #expect {
            try GatewayConfig.parse(yaml: yaml, environment: [:])
        } throws: { error in
            (error as? ConfigError)?.message == message
        }
    }
}
