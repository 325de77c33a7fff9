#!/usr/bin/env python3
"""Decode throughput with LoRA adapters: 4 concurrent streams, all base vs half base / half adapter vs four
different adapters, on one `infer serve` (the test adapter loaded under four names: four adapter groups in every
batch). Rounds interleave the scenarios; prints and writes (bench/results/lora-<date>.{json,md}) the median,
min and max generated tokens per second per scenario and the ratio to all base.

    bench/lora/bench.py [--threads 2] [--tokens 128] [--rounds 3]

Needs .build/release/infer, models/gemma-3-270m-q4_k_m.gguf and models/gemma-3-270m-test-lora.gguf; runs with
the e2e venv's Python (httpx): ~/.cache/infer-e2e/venv/bin/python bench/lora/bench.py
"""
import argparse, concurrent.futures, datetime, json, pathlib, socket, statistics, subprocess, time

import httpx

ROOT = pathlib.Path(__file__).resolve().parent.parent.parent
MODEL = ROOT / "models/gemma-3-270m-q4_k_m.gguf"
LORA = ROOT / "models/gemma-3-270m-test-lora.gguf"
PROMPTS = ["The history of the printing press", "A recipe for bread starts with", "In the deep ocean there are",
           "The rules of chess say that"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--speculative", default="off", choices=["off", "ngram"],
                    help="speculative decoding on the server (default off: the adapter changes the text, and with it "
                         "how many prompt-lookup drafts are accepted, which would hide the adapter's own cost)")
    a = ap.parse_args()
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    names = [f"a{i}" for i in range(4)]
    proc = subprocess.Popen([str(ROOT / ".build/release/infer"), "serve", "--model", str(MODEL), "--port", str(port),
                             "--threads", str(a.threads), "--quiet", "--speculative", a.speculative,
                             "--lora-modules", *[f"{n}={LORA}" for n in names]],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200: break
            except httpx.HTTPError:
                time.sleep(0.2)
        base = MODEL.name.removesuffix(".gguf")
        scenarios = {"4 base": [base] * 4, "2 base + 2 adapter": [base, base, names[0], names[0]],
                     "4 adapters": names}

        def one(job):
            i, model = job
            r = httpx.post(f"{url}/v1/completions", timeout=600, json={
                "model": model, "prompt": PROMPTS[i], "max_tokens": a.tokens, "temperature": 0,
                "ignore_eos": True, "cache_salt": f"{time.time()}-{i}"})
            r.raise_for_status()
            return r.json()["usage"]["completion_tokens"]

        # Rounds interleave the scenarios (A B C, A B C, ...) so that drift on a shared machine hits all alike.
        results = {name: [] for name in scenarios}
        for r in range(a.rounds):
            for name, models in scenarios.items():
                t0 = time.time()
                with concurrent.futures.ThreadPoolExecutor(4) as pool:
                    tokens = sum(pool.map(one, enumerate(models)))
                results[name].append(tokens / (time.time() - t0))
                print(f"[lora-bench] round {r + 1}/{a.rounds} {name}: {results[name][-1]:.1f} tok/s", flush=True)
        base_median = statistics.median(results["4 base"])
        rows = []
        for name, values in results.items():
            med = statistics.median(values)
            rows.append({"scenario": name, "median_tps": round(med, 2), "min_tps": round(min(values), 2),
                         "max_tps": round(max(values), 2), "runs": [round(v, 2) for v in values],
                         "vs_all_base": round(med / base_median, 3)})
        date = datetime.date.today().isoformat()
        out = ROOT / "bench/results" / f"lora-{date}{'' if a.speculative == 'off' else '-spec-' + a.speculative}"
        meta = {"date": date, "threads": a.threads, "tokens": a.tokens, "rounds": a.rounds, "streams": 4,
                "speculative": a.speculative,
                "command": f"bench/lora/bench.py --threads {a.threads} --tokens {a.tokens} --rounds {a.rounds} "
                           f"--speculative {a.speculative}"}
        out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
        lines = [f"# LoRA decode throughput {date}", "",
                 f"`{meta['command']}`: one `infer serve` with the test adapter under four names, 4 concurrent greedy "
                 f"streams of {a.tokens} tokens (ignore_eos, unique cache_salt), {a.rounds} interleaved rounds, speculative "
                 f"decoding {a.speculative}.", "",
                 "| scenario | median tok/s | min | max | vs all base |", "|---|---|---|---|---|"]
        for row in rows:
            lines.append(f"| {row['scenario']} | {row['median_tps']} | {row['min_tps']} | {row['max_tps']} | "
                         f"{row['vs_all_base']:.3f}x |")
        out.with_suffix(".md").write_text("\n".join(lines) + "\n")
        print("\n".join(lines))
    finally:
        proc.terminate(); proc.wait()


if __name__ == "__main__":
    main()
