"""Tools and response_format through the gateway to remote groups: the upstream receives them as sent
(a recording upstream on loopback), the Messages API's tools reach it in OpenAI's shape, and a request with
tools or a JSON schema survives a fallback from a dead primary to the local engine and to a real remote
`infer` server (the shared one), whose answers are still schema-valid."""
import json

import anthropic
import jsonschema
import openai
import pytest

from support import MODEL, RecordingUpstream, Server, free_port, write_config

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 40}},
                       "required": ["city"], "additionalProperties": False},
    },
}
CITY = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 30},
                                         "population": {"type": "integer"}},
        "required": ["name", "population"], "additionalProperties": False}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


@pytest.fixture(scope="module")
def upstream():
    u = RecordingUpstream()
    yield u
    u.close()


@pytest.fixture(scope="module")
def gateway(server, upstream, tmp_path_factory):
    dead = free_port()
    config = write_config(tmp_path_factory.mktemp("passthrough"), f"""
model_list:
  - model_name: recorded
    litellm_params: {{model: openai/recorded-model, api_base: "{upstream.url}", api_key: sk-x}}
  - model_name: local
    litellm_params: {{model: local/{MODEL}}}
  - model_name: remote-gemma
    litellm_params: {{model: openai/{server.model}, api_base: "{server.url}/v1", api_key: unused}}
  - model_name: dead-to-local
    litellm_params: {{model: openai/gone, api_base: "http://127.0.0.1:{dead}/v1", api_key: sk-x, timeout: 10}}
  - model_name: dead-to-remote
    litellm_params: {{model: openai/gone, api_base: "http://127.0.0.1:{dead}/v1", api_key: sk-x, timeout: 10}}
router_settings:
  num_retries: 0
  retry_after: 0
  fallbacks: [{{"dead-to-local": ["local"]}}, {{"dead-to-remote": ["remote-gemma"]}}]
""")
    s = Server("--config", str(config), name="passthrough", with_model=False, model_name="local").start()
    yield s
    assert s.stop() == 0


def test_tools_and_response_format_reach_the_upstream(gateway, upstream):
    client = gateway.client()
    upstream.received.clear()
    client.chat.completions.create(model="recorded", messages=ASK, tools=[WEATHER], tool_choice="required",
                                   parallel_tool_calls=False, max_tokens=20)
    fmt = {"type": "json_schema", "json_schema": {"name": "city", "schema": CITY, "strict": True}}
    client.chat.completions.create(model="recorded", messages=ASK, response_format=fmt, max_tokens=20)
    first, second = upstream.received
    assert first["model"] == "recorded-model"
    assert first["tools"] == [WEATHER] and first["tool_choice"] == "required"
    assert first["parallel_tool_calls"] is False
    assert second["response_format"] == fmt


def test_messages_api_tools_reach_the_upstream_as_openai_tools(gateway, upstream):
    client = anthropic.Anthropic(base_url=gateway.url, api_key="unused", max_retries=0, timeout=120)
    upstream.received.clear()
    m = client.messages.create(
        model="recorded", max_tokens=20, messages=ASK,
        tools=[{"name": "get_weather", "description": "Current weather in a city.",
                "input_schema": WEATHER["function"]["parameters"]}],
        tool_choice={"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True})
    assert m.content[0].text == "ok" and m.stop_reason == "end_turn"
    (body,) = upstream.received
    assert body["tools"] == [WEATHER]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert body["parallel_tool_calls"] is False
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": ASK[0]["content"]}]}]


@pytest.mark.parametrize("group,served", [("dead-to-local", "local"), ("dead-to-remote", "remote-gemma")])
def test_tool_calls_survive_fallback(gateway, group, served):
    raw = gateway.client().chat.completions.with_raw_response.create(
        model=group, messages=ASK, tools=[WEATHER], tool_choice="required", max_tokens=80, temperature=0)
    assert int(raw.headers["x-litellm-attempted-fallbacks"]) >= 1
    r = raw.parse()
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    for call in choice.message.tool_calls:
        assert call.function.name == "get_weather"
        jsonschema.validate(json.loads(call.function.arguments), WEATHER["function"]["parameters"])


@pytest.mark.parametrize("group", ["dead-to-local", "dead-to-remote"])
def test_json_schema_survives_fallback(gateway, group):
    r = gateway.client().chat.completions.create(
        model=group, messages=[{"role": "user", "content": "Describe Paris as JSON."}], max_tokens=60,
        temperature=0, response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": CITY,
                                                                              "strict": True}})
    assert r.choices[0].finish_reason == "stop", r
    jsonschema.validate(json.loads(r.choices[0].message.content), CITY)
