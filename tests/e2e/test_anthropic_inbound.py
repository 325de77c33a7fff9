"""The inbound Anthropic Messages API (`POST /v1/messages`, `/v1/messages/count_tokens`) driven by the official
`anthropic` SDK, on a gateway with the local engine (`gemma`) and a remote group (`remote-gemma`: the shared
`infer` server as an `openai/` upstream on loopback): messages, streaming (event order, final message),
tools with a tool_result turn, count_tokens, and errors surfacing as the SDK's typed exceptions."""
import json

import anthropic
import httpx
import jsonschema
import pytest

from support import MODEL, Server

WEATHER = {
    "name": "get_weather",
    "description": "Current weather in a city.",
    "input_schema": {"type": "object", "properties": {
        "city": {"type": "string", "maxLength": 40},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
        "required": ["city", "unit"], "additionalProperties": False},
}
ASK = [{"role": "user", "content": "What is the weather in Paris right now?"}]
GROUPS = ["gemma", "remote-gemma"]
# The current SDK (API version 2026-10-21) has no sampling parameters; older clients send `temperature`,
# which the server still honours: greedy decoding keeps the comparisons below deterministic.
GREEDY = {"temperature": 0}


@pytest.fixture(scope="module")
def gateway(server, tmp_path_factory):
    config = tmp_path_factory.mktemp("anthropic") / "config.yaml"
    config.write_text(f"""
model_list:
  - model_name: gemma
    litellm_params:
      model: local/{MODEL}
  - model_name: remote-gemma
    litellm_params:
      model: openai/{server.model}
      api_base: {server.url}/v1
      api_key: unused
""")
    s = Server("--config", str(config), name="anthropic-gw", with_model=False, model_name="gemma").start()
    yield s
    assert s.stop() == 0


@pytest.fixture(scope="module")
def client(gateway):
    return anthropic.Anthropic(base_url=gateway.url, api_key="unused", max_retries=0, timeout=300)


@pytest.mark.parametrize("group", GROUPS)
def test_create(client, group):
    m = client.messages.create(model=group, max_tokens=8, extra_body=GREEDY, system="You are terse.",
                               messages=[{"role": "user", "content": "Name a color."}])
    assert m.type == "message" and m.role == "assistant" and m.model == group
    assert m.id.startswith("msg_")
    assert [b.type for b in m.content] == ["text"] and m.content[0].text
    assert m.stop_reason in ("end_turn", "max_tokens")
    assert m.stop_sequence is None
    assert 1 <= m.usage.output_tokens <= 8
    assert m.usage.input_tokens + m.usage.cache_read_input_tokens > 5
    if group == "gemma":
        counted = client.messages.count_tokens(model=group, system="You are terse.",
                                               messages=[{"role": "user", "content": "Name a color."}])
        assert counted.input_tokens == m.usage.input_tokens + m.usage.cache_read_input_tokens


@pytest.mark.parametrize("group", GROUPS)
def test_stop_sequence(client, group):
    # "e": any English greeting has one early, so the stop string is reached well before max_tokens.
    m = client.messages.create(model=group, max_tokens=30, extra_body=GREEDY, stop_sequences=["e", "NEVER"],
                               messages=[{"role": "user", "content": "Say hello to me in English."}])
    text = "".join(b.text for b in m.content if b.type == "text")
    assert "e" not in text
    assert m.stop_reason == "stop_sequence" and m.stop_sequence == "e", m


@pytest.mark.parametrize("group", GROUPS)
def test_stream_event_order_and_final_message(client, group):
    with client.messages.stream(model=group, max_tokens=10, extra_body=GREEDY,
                                messages=[{"role": "user", "content": "Say hello."}]) as stream:
        events = [e for e in stream]
        final = stream.get_final_message()
    raw = [e.type for e in events if e.type in ("message_start", "content_block_start", "content_block_delta",
                                                 "content_block_stop", "message_delta", "message_stop")]
    assert raw[:2] == ["message_start", "content_block_start"], raw
    assert raw[-3:] == ["content_block_stop", "message_delta", "message_stop"], raw
    assert set(raw[2:-3]) == {"content_block_delta"}
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    assert final.content[0].type == "text" and final.content[0].text == text and text
    assert final.stop_reason in ("end_turn", "max_tokens")
    assert final.usage.output_tokens >= 1
    assert final.usage.input_tokens + (final.usage.cache_read_input_tokens or 0) > 3
    blocking = client.messages.create(model=group, max_tokens=10, extra_body=GREEDY,
                                      messages=[{"role": "user", "content": "Say hello."}])
    assert blocking.content[0].text == text, "temperature 0: the stream and the message agree"


def test_raw_stream_has_event_lines_and_ping(gateway):
    with httpx.stream("POST", f"{gateway.url}/v1/messages", timeout=120,
                      headers={"anthropic-version": "2023-06-01", "x-api-key": "unused"},
                      json={"model": "gemma", "max_tokens": 4, "stream": True,
                            "messages": [{"role": "user", "content": "Hi"}]}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        blocks = [b for b in r.read().decode().split("\n\n") if b]
    names = []
    for b in blocks:
        event, data = b.split("\n")
        assert event.startswith("event: ") and data.startswith("data: ")
        assert json.loads(data[6:])["type"] == event[7:]
        names.append(event[7:])
    assert names[:3] == ["message_start", "content_block_start", "ping"], names
    assert names[-1] == "message_stop" and "[DONE]" not in "".join(blocks)


@pytest.mark.parametrize("group", GROUPS)
def test_tool_use_then_tool_result(client, group):
    m = client.messages.create(model=group, max_tokens=120, extra_body=GREEDY, messages=ASK, tools=[WEATHER],
                               tool_choice={"type": "tool", "name": "get_weather"})
    assert m.stop_reason == "tool_use", m
    uses = [b for b in m.content if b.type == "tool_use"]
    assert len(uses) >= 1 and uses[0].name == "get_weather" and uses[0].id
    jsonschema.validate(uses[0].input, WEATHER["input_schema"])
    follow = client.messages.create(
        model=group, max_tokens=20, extra_body=GREEDY, tools=[WEATHER], tool_choice={"type": "none"},
        messages=ASK + [{"role": "assistant", "content": m.content},
                        {"role": "user", "content": [
                            {"type": "tool_result", "tool_use_id": u.id, "content": "18 degrees, sunny"} for u in uses]}])
    assert follow.stop_reason in ("end_turn", "max_tokens")
    assert [b.type for b in follow.content] == ["text"] and follow.content[0].text


@pytest.mark.parametrize("group", GROUPS)
def test_streamed_tool_use(client, group):
    with client.messages.stream(model=group, max_tokens=120, extra_body=GREEDY, messages=ASK, tools=[WEATHER],
                                tool_choice={"type": "any"}) as stream:
        events = [e for e in stream]
        final = stream.get_final_message()
    assert any(e.type == "content_block_delta" and e.delta.type == "input_json_delta" for e in events)
    assert final.stop_reason == "tool_use"
    use = next(b for b in final.content if b.type == "tool_use")
    assert use.name == "get_weather"
    jsonschema.validate(use.input, WEATHER["input_schema"])


CITY = {"type": "object", "properties": {"name": {"type": "string", "maxLength": 30},
                                         "population": {"type": "integer", "minimum": 0}},
        "required": ["name", "population"], "additionalProperties": False}


@pytest.mark.parametrize("group", GROUPS)
def test_output_config_format_is_constrained(client, group):
    m = client.messages.create(model=group, max_tokens=60, messages=[{"role": "user", "content": "Describe Paris."}],
                               output_config={"format": {"type": "json_schema", "schema": CITY}, "effort": "low"},
                               extra_body=GREEDY)
    assert m.stop_reason == "end_turn", m
    jsonschema.validate(json.loads(m.content[0].text), CITY)


def test_count_tokens(client):
    plain = client.messages.count_tokens(model="gemma", messages=ASK).input_tokens
    with_tools = client.messages.count_tokens(model="gemma", messages=ASK, tools=[WEATHER]).input_tokens
    with_system = client.messages.count_tokens(model="gemma", messages=ASK, system="Answer in French.").input_tokens
    assert 5 < plain < with_system
    assert with_tools > plain + 20, "the tool descriptions are part of the prompt"


def test_count_tokens_remote_group_asks_the_upstream(client):
    """remote-gemma's upstream is the same model and template, so its own count_tokens gives the local count."""
    for kw in ({}, {"tools": [WEATHER]}, {"system": "Answer in French."}):
        local = client.messages.count_tokens(model="gemma", messages=ASK, **kw).input_tokens
        remote = client.messages.count_tokens(model="remote-gemma", messages=ASK, **kw).input_tokens
        assert remote == local, kw


def test_errors_are_typed(client):
    with pytest.raises(anthropic.NotFoundError) as e:
        client.messages.create(model="nope", max_tokens=5, messages=ASK)
    assert e.value.body["type"] == "error" and e.value.body["error"]["type"] == "not_found_error"
    with pytest.raises(anthropic.BadRequestError) as e:
        client.messages.create(model="gemma", max_tokens=5, messages=ASK, extra_body={"temperature": 1.5})
    assert e.value.body["error"]["type"] == "invalid_request_error"
    assert "temperature" in e.value.body["error"]["message"]
    with pytest.raises(anthropic.BadRequestError) as e:
        client.messages.create(model="gemma", max_tokens=5, messages=ASK, extra_body={"container": "c-1"})
    assert "'container'" in e.value.body["error"]["message"]
    with pytest.raises(anthropic.BadRequestError) as e:
        client.messages.create(model="gemma", max_tokens=5, messages=ASK, thinking={"type": "enabled", "budget_tokens": 2048})
    assert "thinking" in e.value.body["error"]["message"]
    with pytest.raises(anthropic.BadRequestError) as e:
        client.messages.create(model="gemma", max_tokens=5, messages=[{"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_unknown", "content": "x"}]}])
    assert "tool_use_id" in e.value.body["error"]["message"]
    with pytest.raises(anthropic.BadRequestError) as e:
        client.messages.create(model="gemma", max_tokens=5, messages=[{"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            {"type": "text", "text": "What is this?"}]}])
    assert "only text is supported" in e.value.body["error"]["message"]


def test_api_key_headers(auth_server):
    def make(**kw):
        return anthropic.Anthropic(base_url=auth_server.url, max_retries=0, timeout=300, **kw)
    with pytest.raises(anthropic.AuthenticationError) as e:
        make(api_key="wrong").messages.create(model=auth_server.model, max_tokens=3, messages=ASK)
    assert e.value.body["error"]["type"] == "authentication_error"
    by_key = make(api_key="e2e-secret-key").messages.create(model=auth_server.model, max_tokens=3, messages=ASK)
    by_token = make(auth_token="e2e-secret-key").messages.create(model=auth_server.model, max_tokens=3, messages=ASK)
    assert by_key.type == by_token.type == "message"
