"""Tools on the local model through the official `openai` client: forced calls (required, named) with and
without streaming, `auto`, `parallel_tool_calls`, a tool-result turn, and the 400s."""
import json

import jsonschema
import openai
import pytest

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "maxLength": 40},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city", "unit"], "additionalProperties": False},
    },
}
TIME = {
    "type": "function",
    "function": {"name": "get_time", "description": "Current time in a time zone.",
                 "parameters": {"type": "object", "properties": {"zone": {"type": "string", "maxLength": 40}},
                                "required": ["zone"], "additionalProperties": False}},
}
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in (WEATHER, TIME)}
ASK = [{"role": "user", "content": "What is the weather in Paris right now?"}]


def check_calls(calls, names):
    assert calls, "no tool calls"
    for c in calls:
        assert c.type == "function"
        assert c.id.startswith("call_")
        assert c.function.name in names
        jsonschema.validate(json.loads(c.function.arguments), SCHEMAS[c.function.name])


def test_required_non_streaming(client, model):
    r = client.chat.completions.create(model=model, messages=ASK, tools=[WEATHER, TIME], tool_choice="required",
                                       max_tokens=120, temperature=0)
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls", choice.message
    assert choice.message.content is None
    check_calls(choice.message.tool_calls, {"get_weather", "get_time"})


def test_named_function_streaming(client, model):
    stream = client.chat.completions.create(
        model=model, messages=ASK, tools=[WEATHER, TIME], max_tokens=120, temperature=0.8, seed=4, stream=True,
        tool_choice={"type": "function", "function": {"name": "get_time"}}, parallel_tool_calls=False)
    calls, finish, content = {}, None, ""
    for chunk in stream:
        for c in chunk.choices:
            content += c.delta.content or ""
            finish = c.finish_reason or finish
            for d in c.delta.tool_calls or []:
                entry = calls.setdefault(d.index, {"id": None, "name": "", "arguments": ""})
                entry["id"] = d.id or entry["id"]
                if d.function:
                    entry["name"] += d.function.name or ""
                    entry["arguments"] += d.function.arguments or ""
    assert finish == "tool_calls"
    assert content == ""
    assert len(calls) == 1
    call = calls[0]
    assert call["id"].startswith("call_") and call["name"] == "get_time"
    jsonschema.validate(json.loads(call["arguments"]), SCHEMAS["get_time"])


def test_auto_gives_text_or_valid_calls(client, model):
    for seed in range(3):
        r = client.chat.completions.create(model=model, messages=ASK, tools=[WEATHER], max_tokens=100,
                                           temperature=1.0, seed=seed)
        choice = r.choices[0]
        if choice.finish_reason == "tool_calls":
            check_calls(choice.message.tool_calls, {"get_weather"})
        else:
            assert choice.message.tool_calls is None
            assert not choice.message.content.lstrip().startswith("<tool_call>")


def test_parallel_false_gives_one_call(client, model):
    r = client.chat.completions.create(model=model, messages=ASK, tools=[WEATHER, TIME], tool_choice="required",
                                       parallel_tool_calls=False, max_tokens=120, temperature=1.0, seed=9, n=3)
    for choice in r.choices:
        assert choice.finish_reason == "tool_calls"
        assert len(choice.message.tool_calls) == 1
        check_calls(choice.message.tool_calls, {"get_weather", "get_time"})


def test_tool_result_turn(client, model):
    first = client.chat.completions.create(model=model, messages=ASK, tools=[WEATHER], tool_choice="required",
                                           max_tokens=120, temperature=0)
    call = first.choices[0].message.tool_calls[0]
    messages = ASK + [
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temperature": 18, "sky": "clear"})},
    ]
    r = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER], max_tokens=40,
                                       temperature=0, tool_choice="none")
    choice = r.choices[0]
    assert choice.finish_reason in ("stop", "length")
    assert choice.message.tool_calls is None
    assert choice.message.content.strip()
    # The tool result is in the prompt: the same history without it is shorter.
    base = client.chat.completions.create(model=model, messages=messages[:-1], tools=[WEATHER], max_tokens=1,
                                          temperature=0, tool_choice="none")
    assert r.usage.prompt_tokens > base.usage.prompt_tokens + 5


@pytest.mark.parametrize("kwargs,param", [
    ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
    ({"tools": [{"type": "function", "function": {"name": "bad name!"}}]}, "tools[0].function.name"),
    ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "not": {}}}}],
      "tool_choice": "required"}, "tools"),
    ({"tool_choice": "required"}, "tool_choice"),
])
def test_bad_tools_are_400s(client, model, kwargs, param):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model=model, messages=ASK, max_tokens=5, **kwargs)
    assert e.value.status_code == 400
    assert e.value.param == param


def test_streamed_arguments_arrive_in_pieces(client, model):
    """OpenAI's streaming shape: the call's name first (empty arguments), then `arguments` in pieces; the SDK's
    stream helper accumulates them into the final completion."""
    with client.chat.completions.stream(model=model, messages=ASK, tools=[WEATHER], tool_choice="required",
                                        parallel_tool_calls=False, max_tokens=120, temperature=0) as stream:
        events = list(stream)
        final = stream.get_final_completion()
    pieces = [e.arguments_delta for e in events if e.type == "tool_calls.function.arguments.delta"]
    assert len(pieces) > 3, pieces
    choice = final.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.id.startswith("call_") and call.function.name == "get_weather"
    assert call.function.arguments == "".join(pieces)
    jsonschema.validate(json.loads(call.function.arguments), SCHEMAS["get_weather"])
