"""Message fixes (issue 20): a deployment with `message_fixes` receives a conversation its strict chat format
accepts (system folded into the first user turn, same-role turns merged, trailing assistant turns dropped,
empty content filled, non-text parts dropped) and the response says so in `x-message-fixes`; a deployment
without them receives the request untouched. The upstream is a recording stub on loopback."""
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
