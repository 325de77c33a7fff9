"""Chat completions through the official `openai` client: non-streaming, streaming (SSE), usage."""

MESSAGES = [
    {"role": "system", "content": "You are a concise geography assistant."},
    {"role": "user", "content": "What is the capital of France?"},
]


def check_usage(usage, max_completion):
    assert usage is not None
    assert usage.prompt_tokens > 0
    assert 0 < usage.completion_tokens <= max_completion
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details is not None, "usage.prompt_tokens_details missing"
    assert isinstance(usage.prompt_tokens_details.cached_tokens, int)
    assert 0 <= usage.prompt_tokens_details.cached_tokens <= usage.prompt_tokens


def test_chat_non_streaming(client, model):
    r = client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=16, temperature=0)
    assert r.object == "chat.completion"
    assert r.id
    assert r.model == model
    assert len(r.choices) == 1
    choice = r.choices[0]
    assert choice.index == 0
    assert choice.message.role == "assistant"
    assert isinstance(choice.message.content, str) and choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    check_usage(r.usage, 16)
    if choice.finish_reason == "length":
        assert r.usage.completion_tokens == 16


def test_chat_max_completion_tokens_and_text_parts(client, model):
    """`max_completion_tokens` caps the answer; content may be an array of text parts."""
    messages = [{"role": "user", "content": [{"type": "text", "text": "Name three colours."},
                                             {"type": "text", "text": "Answer in one line."}]}]
    r = client.chat.completions.create(model=model, messages=messages, max_completion_tokens=4, temperature=0)
    assert r.choices[0].finish_reason == "length"
    assert r.usage.completion_tokens == 4


def test_chat_streaming(client, model):
    stream = client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=16, temperature=0,
                                            stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    assert chunks, "no chunks"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1, "all chunks of one completion share an id"
    with_choices = [c for c in chunks if c.choices]
    # OpenAI's order: first chunk carries the role, then content deltas, finish_reason on the last choice
    # chunk, then (include_usage) one chunk with empty choices and the usage.
    first = with_choices[0].choices[0]
    assert first.delta.role == "assistant"
    finishes = [c.choices[0].finish_reason for c in with_choices]
    assert finishes[-1] in ("stop", "length")
    assert all(f is None for f in finishes[:-1]), f"finish_reason before the last chunk: {finishes}"
    text = "".join(c.choices[0].delta.content or "" for c in with_choices)
    assert text.strip(), "no content deltas"
    assert sum(1 for c in with_choices if c.choices[0].delta.content) >= 2, "content should arrive in deltas"
    last = chunks[-1]
    assert last.choices == [], "the usage chunk has an empty choices array"
    check_usage(last.usage, 16)
    assert all(c.usage is None for c in chunks[:-1]), "usage only on the final chunk"
    # Greedy decoding: the stream must spell the same text as the non-streaming response.
    r = client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=16, temperature=0)
    assert text == r.choices[0].message.content
    assert finishes[-1] == r.choices[0].finish_reason


def test_chat_streaming_without_usage(client, model):
    chunks = list(client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=4, temperature=0,
                                                 stream=True))
    assert all(c.usage is None for c in chunks), "no usage chunk unless stream_options.include_usage"
    assert chunks[-1].choices and chunks[-1].choices[0].finish_reason == "length"


def test_chat_logprobs(client, model):
    r = client.chat.completions.create(model=model, messages=MESSAGES, max_tokens=6, temperature=0,
                                       logprobs=True, top_logprobs=3)
    content = r.choices[0].logprobs.content
    assert len(content) == r.usage.completion_tokens
    for entry in content:
        assert entry.logprob <= 0
        assert len(entry.top_logprobs) == 3
        # Greedy: the chosen token is the most likely one.
        assert entry.logprob >= max(t.logprob for t in entry.top_logprobs) - 1e-4
    assert "".join(e.token for e in content) == r.choices[0].message.content
