#!/usr/bin/env python3
"""Writes the hand-made GGUF seeds of corpus/gguf (stdlib only; rerun after changing it).

The other corpora are plain text files edited by hand."""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)


def s(x):
    b = x.encode()
    return struct.pack("<Q", len(b)) + b


def val(t, v):
    if t == STR:
        return s(v)
    if t == ARR:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(val(et, i) for i in items)
    return struct.pack("<" + {U8: "B", I8: "b", U16: "H", I16: "h", U32: "I", I32: "i", F32: "f", BOOL: "?",
                              U64: "Q", I64: "q", F64: "d"}[t], v)


def gguf(kvs, tensors, alignment=32):
    """kvs: [(key, type, value)]; tensors: [(name, ne, ggml_type, data bytes)]."""
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for k, t, v in kvs:
        out += s(k) + struct.pack("<I", t) + val(t, v)
    offset, blobs = 0, b""
    for name, ne, gt, data in tensors:
        out += s(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
        out += struct.pack("<IQ", gt, offset)
        pad = (-len(data)) % alignment
        blobs += data + b"\0" * pad
        offset += len(data) + pad
    out += b"\0" * ((-len(out)) % alignment)
    return out + blobs


spm_tokens = ["<unk>", "<s>", "</s>", "<start_of_turn>", "<end_of_turn>", "\u2581", "\u2581H", "ello", "\u2581w",
              "orld", "H", "e", "l", "o", "<0x0A>", "<0x20>", "<0xC3>", "<0xA9>"]
spm_types = [2, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 6, 6, 6, 6]
spm = [
    ("general.architecture", STR, "llama"),
    ("general.name", STR, "fuzz-seed"),
    ("llama.context_length", U32, 64),
    ("llama.embedding_length", U32, 8),
    ("llama.block_count", U32, 1),
    ("llama.feed_forward_length", U32, 16),
    ("llama.attention.head_count", U32, 2),
    ("llama.attention.head_count_kv", U32, 1),
    ("llama.attention.layer_norm_rms_epsilon", F32, 1e-5),
    ("tokenizer.ggml.model", STR, "llama"),
    ("tokenizer.ggml.tokens", ARR, (STR, spm_tokens)),
    ("tokenizer.ggml.scores", ARR, (F32, [float(-i) for i in range(len(spm_tokens))])),
    ("tokenizer.ggml.token_type", ARR, (I32, spm_types)),
    ("tokenizer.ggml.bos_token_id", U32, 1),
    ("tokenizer.ggml.eos_token_id", U32, 2),
    ("tokenizer.ggml.add_bos_token", BOOL, True),
    ("tokenizer.ggml.add_space_prefix", BOOL, False),
    ("tokenizer.chat_template", STR, "{{ '<start_of_turn>' + message['role'] }}"),
]
f32 = struct.pack("<8f", *[0.5 * i for i in range(8)])
q8 = struct.pack("<e", 0.25) + bytes(range(32))
spm_tensors = [("token_embd.weight", [8, 2], 0, f32 * 2), ("blk.0.attn_q.weight", [32, 1], 8, q8),
               ("output_norm.weight", [8], 0, f32)]

bpe_tokens = ["a", "b", "c", "ab", "abc", "\u0120", "\u0120a", "<|endoftext|>", "<|im_start|>", "<|im_end|>"]
bpe = [
    ("general.architecture", STR, "qwen2"),
    ("tokenizer.ggml.model", STR, "gpt2"),
    ("tokenizer.ggml.pre", STR, "qwen2"),
    ("tokenizer.ggml.tokens", ARR, (STR, bpe_tokens)),
    ("tokenizer.ggml.token_type", ARR, (I32, [1] * 7 + [3, 3, 3])),
    ("tokenizer.ggml.merges", ARR, (STR, ["a b", "ab c", "\u0120 a"])),
    ("tokenizer.ggml.eos_token_id", U32, 7),
    ("tokenizer.ggml.add_bos_token", BOOL, False),
    ("general.alignment", U32, 64),
]
bpe_tensors = [("t.f16", [4], 1, struct.pack("<4e", 1, 2, 3, 4))]

seeds = {
    "spm-llama.gguf": gguf(spm, spm_tensors),
    "bpe-qwen2.gguf": gguf(bpe, bpe_tensors, alignment=64),
    "empty.gguf": gguf([], []),
    "metadata-types.gguf": gguf([("u8", U8, 1), ("i8", I8, -1), ("u16", U16, 2), ("i16", I16, -2), ("u64", U64, 3),
                                 ("i64", I64, -3), ("f64", F64, 1.5), ("nested", ARR, (ARR, [(U8, [1, 2])])),
                                 ("bools", ARR, (BOOL, [True, False]))], []),
}
for name, data in seeds.items():
    with open(os.path.join(HERE, "corpus", "gguf", name), "wb") as f:
        f.write(data)
    print(name, len(data))
