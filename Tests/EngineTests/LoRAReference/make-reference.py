#!/usr/bin/env python3
"""Generates reference.json beside this file: llama.cpp's greedy tokens and top-10 log-probabilities for
Gemma 3 270M with the test LoRA adapter (models/gemma-3-270m-test-lora.gguf, scale 1), on the completion
prompts of ../shared/reference/gemma3-270m/prompts.json. Run once; the output is committed.

    Tests/EngineTests/LoRAReference/make-reference.py [LLAMA_SERVER]

LLAMA_SERVER defaults to the llama-server built by bench/build-llama-cpp (~/.cache/infer-bench/llama.cpp-*/).
Same method as the base model's reference (its README): temperature 0, EOS not stopped, full-softmax
log-probabilities (n_probs 10), prompt ids from llama-server's /tokenize with special tokens parsed.
Only the standard library is used.
"""
import glob, json, os, socket, subprocess, sys, time, urllib.request

here = os.path.dirname(os.path.abspath(__file__))
repo = os.path.abspath(os.path.join(here, "..", "..", ".."))
model = os.path.join(repo, "models", "gemma-3-270m-q4_k_m.gguf")
lora = os.path.join(repo, "models", "gemma-3-270m-test-lora.gguf")
prompts = json.load(open(os.path.join(repo, "..", "shared", "reference", "gemma3-270m", "prompts.json")))

def server_binary():
    if len(sys.argv) > 1:
        return sys.argv[1]
    found = sorted(glob.glob(os.path.expanduser("~/.cache/infer-bench/llama.cpp-*/build/bin/llama-server")))
    if not found:
        sys.exit("llama-server not found: run bench/build-llama-cpp or pass its path")
    return found[-1]

def post(port, path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.load(r)

def main():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    binary = server_binary()
    proc = subprocess.Popen([binary, "-m", model, "--lora", lora, "--port", str(port), "-t", "2", "-c", "4096",
                             "-np", "1", "--temp", "0"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    if r.status == 200: break
            except Exception:
                time.sleep(0.2)
        out = {"llama_server": os.path.basename(os.path.dirname(os.path.dirname(os.path.dirname(binary)))),
               "adapter": "models/gemma-3-270m-test-lora.gguf", "scale": 1.0, "complete": []}
        for prompt in prompts["complete"]:
            ids = post(port, "/tokenize", {"content": prompt, "add_special": True, "parse_special": True})["tokens"]
            r = post(port, "/completion", {"prompt": ids, "n_predict": prompts["n_predict"], "temperature": 0,
                                           "n_probs": prompts["n_probs"], "cache_prompt": False, "ignore_eos": True,
                                           "lora": [{"id": 0, "scale": 1.0}]})
            steps = [{"id": p["id"], "logprob": p["logprob"],
                      "top": [[t["id"], t["logprob"]] for t in p["top_logprobs"]]}
                     for p in r["completion_probabilities"]]
            out["complete"].append({"prompt": prompt, "prompt_ids": ids, "content": r["content"], "steps": steps})
        with open(os.path.join(here, "reference.json"), "w") as f:
            json.dump(out, f, indent=1, ensure_ascii=False)
            f.write("\n")
    finally:
        proc.terminate(); proc.wait()

if __name__ == "__main__":
    main()
