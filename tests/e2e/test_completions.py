"""Text completions through the official `openai` client: logprobs, n, stop, seed, echo, streaming, models."""
import math

import httpx

PROMPT = "The capital of France is Paris. The capital of Germany is"


def test_models_list_and_retrieve(client, model):
    listed = client.models.list()
    ids = [m.id for m in listed.data]
    assert model in ids, f"{model} not in {ids}"
    m = client.models.retrieve(model)
    assert m.id == model
    assert m.object == "model"
    assert m.owned_by


def test_completion_logprobs(client, model):
    r = client.completions.create(model=model, prompt=PROMPT, max_tokens=6, temperature=0, logprobs=3)
    assert r.object == "text_completion"
    choice = r.choices[0]
    lp = choice.logprobs
    n = r.usage.completion_tokens
    assert n == 6 and choice.finish_reason == "length"
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == len(lp.text_offset) == n
    assert "".join(lp.tokens) == choice.text
    assert lp.text_offset == sorted(lp.text_offset), "text offsets increase"
    for chosen, logprob, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs):
        assert logprob <= 0 and math.isfinite(logprob)
        assert len(top) == 3
        # Greedy: the chosen token is (one of) the most likely.
        assert logprob >= max(top.values()) - 1e-4
        if chosen in top:
            assert abs(top[chosen] - logprob) < 1e-4
    # The model knows this one.
    assert "Berlin" in choice.text


def test_completion_n2(client, model):
    r = client.completions.create(model=model, prompt=PROMPT, max_tokens=5, temperature=0.9, seed=3, n=2,
                                  extra_body={"ignore_eos": True})
    assert sorted(c.index for c in r.choices) == [0, 1]
    assert all(c.text and c.finish_reason == "length" for c in r.choices)
    assert r.usage.completion_tokens == 10, "usage counts the tokens of every choice"
    assert r.usage.prompt_tokens > 0


def test_completion_stop(client, model):
    full = client.completions.create(model=model, prompt=PROMPT, max_tokens=24, temperature=0).choices[0].text
    # Pick a stop string that occurs in the greedy continuation after its first few characters.
    k = max(4, len(full) // 3)
    stop = full[k:k + 4]
    assert len(stop) == 4, f"continuation too short to test stop: {full!r}"
    expected = full[: full.index(stop)]
    r = client.completions.create(model=model, prompt=PROMPT, max_tokens=24, temperature=0,
                                  stop=[stop, "never-occurs-zq"])
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].text == expected, f"stop={stop!r}, full={full!r}"
    assert stop not in r.choices[0].text
    # A single string works as well.
    r = client.completions.create(model=model, prompt=PROMPT, max_tokens=24, temperature=0, stop=stop)
    assert r.choices[0].text == expected


def test_seed_reproducible(client, model):
    def sample(seed):
        return client.completions.create(model=model, prompt=PROMPT, max_tokens=24, temperature=0.8,
                                         seed=seed, extra_body={"ignore_eos": True}).choices[0].text
    a, b = sample(1234), sample(1234)
    assert a == b, "same seed and temperature must give the same text"
    # The seed must matter: three other seeds at temperature 0.8 cannot all repeat the same 24 tokens.
    others = {sample(s) for s in (1, 2, 3)}
    assert len(others | {a}) > 1, "different seeds all gave the same text: is the seed (or temperature) ignored?"


def test_completion_echo(client, model):
    r = client.completions.create(model=model, prompt=PROMPT, max_tokens=3, temperature=0, echo=True)
    assert r.choices[0].text.startswith(PROMPT)
    assert len(r.choices[0].text) > len(PROMPT)


def test_completion_prompt_forms(server, client, model):
    """`prompt` as a string array (one choice each) and as token ids."""
    r = client.completions.create(model=model, prompt=[PROMPT, "One, two, three,"], max_tokens=3, temperature=0)
    assert sorted(c.index for c in r.choices) == [0, 1]
    single = client.completions.create(model=model, prompt=PROMPT, max_tokens=3, temperature=0)
    assert r.choices[0].text == single.choices[0].text
    ids = httpx.post(f"{server.url}/tokenize", json={"model": model, "prompt": PROMPT}, timeout=30).json()["tokens"]
    r = client.completions.create(model=model, prompt=ids, max_tokens=3, temperature=0)
    assert r.usage.prompt_tokens == len(ids)
    assert r.choices[0].text == single.choices[0].text, "token ids and the same text give the same greedy output"


def test_completion_streaming(client, model):
    chunks = list(client.completions.create(model=model, prompt=PROMPT, max_tokens=8, temperature=0, stream=True,
                                            stream_options={"include_usage": True}))
    with_choices = [c for c in chunks if c.choices]
    text = "".join(c.choices[0].text for c in with_choices)
    assert with_choices[-1].choices[0].finish_reason == "length"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 8
    r = client.completions.create(model=model, prompt=PROMPT, max_tokens=8, temperature=0)
    assert text == r.choices[0].text
