"""Message fixes (issue 20): a deployment with `message_fixes` receives a conversation its strict chat format
accepts (system folded into the first user turn, same-role turns merged, trailing assistant turns dropped,
empty content filled, non-text parts dropped) and the response says so in `x-message-fixes`; a deployment
without them receives the request untouched. The upstream is a recording stub on loopback."""
import httpx
import pytest

from support import MODEL, RecordingUpstream, Server, write_config


@pytest.fixture(scope="module")
def upstream():
    u = RecordingUpstream()
    yield u
    u.close()


@pytest.fixture(scope="module")
def gateway(upstream, tmp_path_factory):
    config = write_config(tmp_path_factory.mktemp("fixes"), f"""
model_list:
  - model_name: gemma
    litellm_params: {{model: local/{MODEL}}}
  - model_name: strict
    litellm_params: {{model: openai/strict-model, api_base: "{upstream.url}", api_key: sk-x, message_fixes: true}}
  - model_name: plain
    litellm_params: {{model: openai/plain-model, api_base: "{upstream.url}", api_key: sk-x}}
""")
    s = Server("--config", str(config), name="message-fixes", with_model=False, model_name="gemma").start()
    yield s
    assert s.stop() == 0


MESSY = [
    {"role": "system", "content": "Be terse."},
    {"role": "user", "content": "Hi."},
    {"role": "user", "content": [{"type": "text", "text": "Look at this:"},
                                 {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]},
    {"role": "assistant", "content": "Partial answer"},
]


def send(gateway, model):
    raw = gateway.client().chat.completions.with_raw_response.create(model=model, messages=MESSY, max_tokens=4)
    return raw.headers, raw.parse()


def test_strict_deployment_receives_a_fixed_conversation(gateway, upstream):
    headers, reply = send(gateway, "strict")
    assert reply.choices[0].message.content == "ok"
    assert headers["x-message-fixes"] == "text_only(1),fold_system,merge_consecutive,last_user"
    body = upstream.received[-1]
    assert body["model"] == "strict-model"
    assert body["messages"] == [{"role": "user", "content": "Be terse.\n\nHi.\n\nLook at this:"}]


def test_other_deployments_receive_the_request_untouched(gateway, upstream):
    headers, _ = send(gateway, "plain")
    assert "x-message-fixes" not in headers
    assert upstream.received[-1]["messages"] == MESSY


# The local Gemma template: conversations its format does not take (same-role turns in a row, a system message
# after the first turn) are fixed for it, the same way, and reported; the prompt is exactly the fixed form's.

def rendered(gateway, messages):
    """The prompt token ids of `messages` rendered by the server's template as they are (no fixes): /tokenize."""
    r = httpx.post(f"{gateway.url}/tokenize", json={"model": "gemma", "messages": messages}, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()["tokens"]


def local(gateway, messages):
    raw = gateway.client().chat.completions.with_raw_response.create(model="gemma", messages=messages, max_tokens=6,
                                                                       temperature=0)
    return raw.headers, raw.parse()


@pytest.mark.parametrize("messy, fixed, applied", [
    ([{"role": "user", "content": "Name a colour."}, {"role": "user", "content": "Just one word."}],
     [{"role": "user", "content": "Name a colour.\n\nJust one word."}],
     "merge_consecutive"),
    ([{"role": "user", "content": "Hi."}, {"role": "assistant", "content": "Hello!"},
      {"role": "system", "content": "Answer in French."}, {"role": "user", "content": "Name a colour."}],
     [{"role": "user", "content": "Answer in French.\n\nHi."}, {"role": "assistant", "content": "Hello!"},
      {"role": "user", "content": "Name a colour."}],
     "fold_system"),
    ([{"role": "system", "content": "Be terse."}, {"role": "developer", "content": "No lists."},
      {"role": "user", "content": "Name a colour."}, {"role": "user", "content": "One word."}],
     [{"role": "user", "content": "Be terse.\n\nNo lists.\n\nName a colour.\n\nOne word."}],
     "fold_system,merge_consecutive"),
])
def test_local_gemma_fixes_what_its_format_needs(gateway, messy, fixed, applied):
    headers, reply = local(gateway, messy)
    assert headers["x-message-fixes"] == applied
    fixed_headers, fixed_reply = local(gateway, fixed)
    assert "x-message-fixes" not in fixed_headers
    # The model saw the fixed form: same prompt length as /tokenize of it (and not of the messy rendering),
    # and the same greedy answer.
    assert reply.usage.prompt_tokens == fixed_reply.usage.prompt_tokens == len(rendered(gateway, fixed))
    assert rendered(gateway, messy) != rendered(gateway, fixed)
    assert reply.choices[0].message.content == fixed_reply.choices[0].message.content


def test_local_gemma_leaves_well_formed_conversations_alone(gateway):
    messages = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Name a colour."},
                {"role": "assistant", "content": "Blue."}, {"role": "user", "content": "Another."}]
    headers, reply = local(gateway, messages)
    assert "x-message-fixes" not in headers
    assert reply.usage.prompt_tokens == len(rendered(gateway, messages))


def test_local_gemma_does_not_fix_invalid_conversations(gateway):
    # Merging would hide the empty content array inside its neighbour: the 400 names it as the client sent it.
    import openai
    with pytest.raises(openai.BadRequestError) as e:
        local(gateway, [{"role": "user", "content": "a"}, {"role": "user", "content": []}])
    assert e.value.body["param"] == "messages[1].content"
