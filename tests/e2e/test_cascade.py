"""Confidence cascade (issue 20): `router_settings.cascades` send a request to the local Gemma tier first and
escalate to a "large model" (a recording stub on loopback) when the local answer fails the gate; headers say
which tier answered and why lower ones were passed over; streaming clients get the accepted answer as SSE."""
import httpx
import pytest

from support import MODEL, RecordingUpstream, Server, write_config


BIG_INPUT, BIG_OUTPUT = 0.000003, 0.000015


@pytest.fixture(scope="module")
def big():
    b = RecordingUpstream("Paris (from the big model)")
    yield b
    b.close()


@pytest.fixture(scope="module")
def gateway(big, tmp_path_factory):
    config = write_config(tmp_path_factory.mktemp("cascade"), f"""
model_list:
  - model_name: gemma
    litellm_params: {{model: local/{MODEL}}}
  - model_name: big
    litellm_params: {{model: openai/big-model, api_base: "{big.url}", api_key: sk-x}}
    model_info: {{input_cost_per_token: {BIG_INPUT}, output_cost_per_token: {BIG_OUTPUT}}}
router_settings:
  cascades:
    - {{model_name: strict-cascade, tiers: [gemma, big], accept: {{min_mean_logprob: -0.000001}}}}
    - {{model_name: complete-cascade, tiers: [gemma, big], accept: {{reject_truncated: true}}}}
    - {{model_name: lenient-cascade, tiers: [gemma, big], accept: {{min_mean_logprob: -100}}}}
    - {{model_name: classified-cascade, tiers: [gemma, big], accept: {{min_mean_logprob: -100}},
        classifier: {{code: true, math: true}}}}
""")
    s = Server("--config", str(config), "--threads", "1", name="cascade", with_model=False, model_name="gemma").start()
    yield s
    assert s.stop() == 0


QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]


def test_a_confident_local_answer_is_returned(gateway, big):
    before = len(big.received)
    raw = gateway.client().chat.completions.with_raw_response.create(
        model="lenient-cascade", messages=QUESTION, max_tokens=8, temperature=0)
    reply = raw.parse()
    assert raw.headers["x-cascade-tier"] == "gemma"
    assert "x-cascade-rejected" not in raw.headers
    assert reply.model == "lenient-cascade"
    assert reply.choices[0].logprobs is None, "logprobs the gate asked for are not passed to a client that did not"
    assert len(big.received) == before, "the large model was not called"


def test_an_unsure_local_answer_escalates_to_the_next_tier(gateway, big):
    raw = gateway.client().chat.completions.with_raw_response.create(
        model="strict-cascade", messages=QUESTION, max_tokens=8, temperature=0)
    reply = raw.parse()
    assert raw.headers["x-cascade-tier"] == "big"
    assert raw.headers["x-cascade-rejected"].startswith("gemma: mean logprob")
    assert reply.choices[0].message.content == "Paris (from the big model)"
    assert reply.model == "strict-cascade"
    sent = big.received[-1]
    assert sent["model"] == "big-model" and sent["messages"] == QUESTION and "logprobs" not in sent


def test_a_truncated_local_answer_escalates(gateway):
    raw = gateway.client().chat.completions.with_raw_response.create(
        model="complete-cascade", messages=QUESTION, max_tokens=1, temperature=0)
    assert raw.headers["x-cascade-tier"] == "big"
    assert raw.headers["x-cascade-rejected"] == "gemma: truncated"


def test_a_streaming_client_gets_the_accepted_answer_as_sse(gateway):
    stream = gateway.client().chat.completions.create(
        model="strict-cascade", messages=QUESTION, max_tokens=8, temperature=0, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == "Paris (from the big model)"


def test_cascade_answers_are_counted(gateway):
    metrics = httpx.get(f"{gateway.url}/metrics", timeout=30).text
    assert 'infer_cascade_answers_total{cascade="strict-cascade",tier="big"}' in metrics
    line = next(l for l in metrics.splitlines() if l.startswith('infer_cascade_answers_total{cascade="lenient-cascade",tier="gemma"}'))
    assert float(line.split()[-1]) >= 1


def test_cascade_names_are_listed_as_models(gateway):
    ids = [m.id for m in gateway.client().models.list().data]
    assert ids == ["gemma", "big", "strict-cascade", "complete-cascade", "lenient-cascade", "classified-cascade"]
    assert gateway.client().models.retrieve("lenient-cascade").id == "lenient-cascade"


def saved_metric(gateway, cascade):
    metrics = httpx.get(f"{gateway.url}/metrics", timeout=30).text
    prefix = f'infer_cost_saved_usd_total{{model_group="{cascade}",layer="cascade_lower_tier"}}'
    line = next((l for l in metrics.splitlines() if l.startswith(prefix)), None)
    return 0.0 if line is None else float(line.split()[-1])


def test_cost_saved_against_the_top_tier(gateway):
    before = saved_metric(gateway, "lenient-cascade")
    raw = gateway.client().chat.completions.with_raw_response.create(
        model="lenient-cascade", messages=QUESTION, max_tokens=8, temperature=0)
    usage = raw.parse().usage
    assert raw.headers["x-cascade-tier"] == "gemma"
    # The local tier is free: the whole top-tier price of the same token counts is saved.
    expected = usage.prompt_tokens * BIG_INPUT + usage.completion_tokens * BIG_OUTPUT
    assert expected > 0
    assert float(raw.headers["x-cascade-saved"]) == pytest.approx(expected, rel=1e-9)
    assert float(raw.headers["x-litellm-response-cost"]) == 0
    assert saved_metric(gateway, "lenient-cascade") == pytest.approx(before + expected, rel=1e-6)
    # The top tier answering saves nothing.
    raw = gateway.client().chat.completions.with_raw_response.create(
        model="strict-cascade", messages=QUESTION, max_tokens=8, temperature=0)
    assert raw.headers["x-cascade-tier"] == "big"
    assert float(raw.headers["x-cascade-saved"]) == 0
    assert float(raw.headers["x-litellm-response-cost"]) == pytest.approx(10 * BIG_INPUT + 5 * BIG_OUTPUT, rel=1e-9)


@pytest.mark.parametrize("prompt, reason", [
    ("Why does this fail?\ndef add(a, b):\n    return a - b", "code"),
    ("Solve 3x + 2 = 11 for x.", "math"),
])
def test_the_classifier_sends_code_and_maths_to_the_top_tier(gateway, big, prompt, reason):
    before = len(big.received)
    messages = [{"role": "user", "content": prompt}]
    raw = gateway.client().chat.completions.with_raw_response.create(
        model="classified-cascade", messages=messages, max_tokens=8, temperature=0)
    assert raw.headers["x-cascade-tier"] == "big"
    assert raw.headers["x-cascade-classifier"] == f"{reason} -> big"
    assert "x-cascade-rejected" not in raw.headers
    assert len(big.received) == before + 1 and big.received[-1]["messages"] == messages


def test_the_classifier_leaves_plain_questions_to_the_first_tier(gateway, big):
    before = len(big.received)
    raw = gateway.client().chat.completions.with_raw_response.create(
        model="classified-cascade", messages=QUESTION, max_tokens=8, temperature=0)
    assert raw.headers["x-cascade-tier"] == "gemma"
    assert "x-cascade-classifier" not in raw.headers
    assert len(big.received) == before
