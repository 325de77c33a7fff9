#!/usr/bin/env python3
"""Writes a small deterministic LoRA adapter for Gemma 3 270M in llama.cpp's GGUF adapter format.

    make-test-lora.py BASE.gguf OUT.gguf

Layout as llama.cpp's convert_lora_to_gguf.py writes it and src/llama-adapter.cpp reads it:
  general.type = "adapter", general.architecture = the base's, adapter.type = "lora",
  adapter.lora.alpha (f32); per adapted base tensor W (ggml ne = [in, out]) a pair
  W.lora_a with ne = [in, rank] and W.lora_b with ne = [rank, out] (numpy shapes reversed), so that
  y = W x + scale * alpha / rank * B (A x).
Rank 8 on blk.N.attn_q / attn_k / attn_v / attn_output, f32, numpy seed 19. The magnitude is chosen so the
greedy continuation differs clearly from the base model's (B is not zero as in a fresh fine-tune).
The shapes are read from the base file, so nothing here assumes Gemma's sizes.
"""
import sys

import numpy as np
import gguf

RANK = 8
ALPHA = 16.0
SEED = 19
B_STD = 0.02
TARGETS = ("attn_q", "attn_k", "attn_v", "attn_output")


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit("usage: make-test-lora.py BASE.gguf OUT.gguf")
    base = gguf.GGUFReader(sys.argv[1])
    arch = bytes(base.fields["general.architecture"].parts[-1]).decode()
    shapes = {t.name: [int(n) for n in t.shape] for t in base.tensors}   # ggml ne order: [in, out]
    layers = sorted({int(name.split(".")[1]) for name in shapes if name.startswith("blk.")})

    rng = np.random.default_rng(SEED)
    writer = gguf.GGUFWriter(sys.argv[2], arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, ALPHA)
    writer.add_name("gemma-3-270m-test-lora")
    for il in layers:
        for target in TARGETS:
            name = f"blk.{il}.{target}.weight"
            n_in, n_out = shapes[name]
            a = (rng.standard_normal((RANK, n_in)) / np.sqrt(n_in)).astype(np.float32)   # ne [in, rank]
            b = (rng.standard_normal((n_out, RANK)) * B_STD).astype(np.float32)          # ne [rank, out]
            writer.add_tensor(name + ".lora_a", a)
            writer.add_tensor(name + ".lora_b", b)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


if __name__ == "__main__":
    main()
