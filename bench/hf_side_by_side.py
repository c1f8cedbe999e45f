#!/usr/bin/env python3
"""saediff against a PyTorch reference on the same machine, in the same run: the reader (Llama layers 0..L),
the SAE encode and the per-document pooling, over the same documents at the same shapes.

  bench/hf_side_by_side.py [--shape tiny|llama3-8b] [--layer L] [--tokens 512] [--docs 32] [--reps 3]
                           [--dtype bfloat16|float32] [--device cuda|cpu] [--reference auto|transformers|torch]
                           [--ref-batch 8] [--threads N] [--saediff PATH] [--work DIR] [--json FILE]

Writes one random checkpoint in the real formats (config.json + model.safetensors with HF names, layers 0..L
only and num_hidden_layers = L+1, weights N(0, 0.02), norms 1; a Goodfire-layout SAE .safetensors) and D
random documents of T token ids (ids.jsonl, seed 1). saediff's side is `bench_encode --model --sae --ids`
(or, on a bench_encode without --ids, `--tokens T --docs D`: same shapes, its own random ids). The reference
is HF transformers' LlamaModel (sdpa) + F.linear/ReLU + max/sum/count pooling, one document per forward call
(as the Python pipeline runs) and --ref-batch documents stacked per call; where transformers is missing,
tests/reference/llama_reference.py's float64 llama_forward on the CPU, labelled as such. Each side: one
warm-up pass over all documents, then --reps timed passes; tokens/s = T*D / seconds, mean ± sd. The SAE's
bias is set from the reader output's RMS on this checkpoint so that ~0.5% of the features fire per token. The
activations of the two sides are not compared here (bench_encode does not output them; tests/ compare the
reader and SAE with the reference)."""
import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))
from llama_reference import llama_forward, load_llama, load_sae, read_safetensors, sae_encode, write_safetensors  # noqa: E402

# Demo-sized (src/model/random_checkpoint.h) and the real Llama-3.1-8B + Goodfire layer-19 SAE.
SHAPES = {"tiny": dict(d_model=64, d_ff=192, n_head=4, n_kv=2, head_dim=16, vocab=128256, d_sae=16384, layer=1),
          "llama3-8b": dict(d_model=4096, d_ff=14336, n_head=32, n_kv=8, head_dim=128, vocab=128256, d_sae=65536,
                            layer=19)}
FINGERPRINT = ("model.embed_tokens.weight", "model.layers.0.mlp.down_proj.weight")


def write_checkpoint(folder, s, layer, dtype, gen_device):
    """config.json, model.safetensors (+ model.norm.weight, so HF loads without fresh weights) and sae.safetensors."""
    os.makedirs(folder, exist_ok=True)
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": s["vocab"],
              "hidden_size": s["d_model"], "intermediate_size": s["d_ff"], "num_hidden_layers": layer + 1,
              "num_attention_heads": s["n_head"], "num_key_value_heads": s["n_kv"], "head_dim": s["head_dim"],
              "hidden_act": "silu", "max_position_embeddings": 131072, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
              "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                               "original_max_position_embeddings": 8192},
              "attention_bias": False, "mlp_bias": False, "tie_word_embeddings": False, "bos_token_id": 128000,
              "eos_token_id": 128009, "torch_dtype": str(dtype).replace("torch.", "")}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    g = torch.Generator(device=gen_device).manual_seed(1)
    d, ff, qd, kvd = s["d_model"], s["d_ff"], s["n_head"] * s["head_dim"], s["n_kv"] * s["head_dim"]

    def normal(*shape):  # drawn on the device (fast at the 8B shape), stored in the run's dtype on the host
        return (torch.randn(shape, generator=g, device=gen_device) * 0.02).to(dtype).cpu()

    t = {"model.embed_tokens.weight": normal(s["vocab"], d)}
    for i in range(layer + 1):
        p = f"model.layers.{i}."
        t.update({p + "input_layernorm.weight": torch.ones(d, dtype=dtype),
                  p + "self_attn.q_proj.weight": normal(qd, d), p + "self_attn.k_proj.weight": normal(kvd, d),
                  p + "self_attn.v_proj.weight": normal(kvd, d), p + "self_attn.o_proj.weight": normal(d, qd),
                  p + "post_attention_layernorm.weight": torch.ones(d, dtype=dtype),
                  p + "mlp.gate_proj.weight": normal(ff, d), p + "mlp.up_proj.weight": normal(ff, d),
                  p + "mlp.down_proj.weight": normal(d, ff)})
    t["model.norm.weight"] = torch.ones(d, dtype=dtype)
    # A few values to check that the reference really loaded these weights (not a fresh random init).
    with open(os.path.join(folder, "fingerprint.json"), "w") as f:
        json.dump({k: t[k][0, :8].float().tolist() for k in FINGERPRINT}, f)
    write_safetensors(os.path.join(folder, "model.safetensors"), t)
    del t
    # Bias -2.58 x 0.02 x sqrt(d_model) x RMS of the reader's output, as bench_encode --shape makes it: about 0.5%
    # of the features fire per token, sparse as a trained SAE (a zero bias would fire half of them, and random
    # weights make the residual stream grow with depth, so the RMS is measured on this checkpoint).
    rms = reader_rms(folder, layer, gen_device)
    bias = -2.58 * 0.02 * d ** 0.5 * rms
    print(f"# reader output RMS {rms:.3g}: SAE bias {bias:.3g}", file=sys.stderr)
    sae = {"encoder_linear.weight": normal(s["d_sae"], d), "encoder_linear.bias": torch.full((s["d_sae"],), bias, dtype=dtype),
           "decoder_linear.weight": normal(d, s["d_sae"]), "decoder_linear.bias": torch.zeros(d, dtype=dtype)}
    write_safetensors(os.path.join(folder, "sae.safetensors"), sae)  # written last: its presence marks a whole set


def reader_rms(folder, layer, device):
    """RMS of layer `layer`'s output over one 64-token document: HF transformers where installed, else the torch
    reference (float64, CPU)."""
    ids = [random.Random(7).randrange(128000) for _ in range(64)]
    try:
        from transformers import LlamaModel
        model = LlamaModel.from_pretrained(folder, attn_implementation="sdpa").to(device).eval()
        model.norm = torch.nn.Identity()
        with torch.inference_mode():
            x = model(input_ids=torch.tensor([ids], device=device), use_cache=False).last_hidden_state.double()
        del model
    except ImportError:
        x = llama_forward(load_llama(folder, layer), ids).double()
    return float(x.pow(2).mean().sqrt())


def pool(f):
    """f [..., T, F] float32 -> per document (features, max, sum, count) on the host, as saediff's pool_features."""
    mx, sm, ct = f.max(-2).values.cpu(), f.sum(-2).cpu(), (f > 0).sum(-2).float().cpu()
    out = []
    for m, s, c in zip(mx.reshape(-1, f.shape[-1]), sm.reshape(-1, f.shape[-1]), ct.reshape(-1, f.shape[-1])):
        idx = (m > 0).nonzero().flatten()
        out.append((idx, m[idx], s[idx], c[idx]))
    return out


def timed(run_all, reps, n_tokens, device):
    """One warm-up pass, then `reps` timed passes: tokens/s mean and sd."""
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    run_all()
    sync()
    rates = []
    for _ in range(reps):
        sync()
        t0 = time.perf_counter()
        run_all()
        sync()
        rates.append(n_tokens / (time.perf_counter() - t0))
    return statistics.mean(rates), (statistics.stdev(rates) if len(rates) > 1 else 0.0)


def hf_reference(a, folder, docs, dtype):
    """HF LlamaModel (sdpa) + SAE encode + pooling: rows for one document per call and --ref-batch per call."""
    import transformers
    from transformers import LlamaConfig, LlamaModel
    ver = tuple(int(x) for x in transformers.__version__.split(".")[:2] if x.isdigit())
    kw = {"dtype" if ver >= (4, 56) else "torch_dtype": dtype}  # `torch_dtype` was renamed in 4.56
    model = LlamaModel.from_pretrained(folder, attn_implementation="sdpa", **kw)
    fp = json.load(open(os.path.join(folder, "fingerprint.json")))
    sd = model.state_dict()
    if not all(sd[k[len("model."):]][0, :8].float().tolist() == v for k, v in fp.items()):
        # The `model.` prefix (LlamaForCausalLM's) was not stripped: load the state dict by hand.
        print("# note: from_pretrained did not load the weights; loading the state dict by hand", file=sys.stderr)
        model = LlamaModel(LlamaConfig.from_pretrained(folder, attn_implementation="sdpa"))
        weights = {k[len("model."):]: v for k, v in read_safetensors(os.path.join(folder, "model.safetensors")).items()}
        model.load_state_dict(weights, strict=True)
        model = model.to(dtype)
    # HF appends the *final-normed* output as the last hidden_states entry, so with L+1 layers hidden_states[L+1]
    # would carry model.norm; the reference activation is layer L's raw output, so the norm becomes the identity.
    model.norm = torch.nn.Identity()
    model = model.to(a.device).eval()
    sae = read_safetensors(os.path.join(folder, "sae.safetensors"))
    w, b = (sae[k].to(a.device, dtype) for k in ("encoder_linear.weight", "encoder_linear.bias"))

    def encode(batch):  # [B][T] ids -> pooled documents
        ids = torch.tensor(batch, dtype=torch.long, device=a.device)
        x = model(input_ids=ids, use_cache=False).last_hidden_state  # [B, T, d_model]
        return pool(torch.relu(torch.nn.functional.linear(x, w, b)).float())

    n = a.tokens * a.docs
    with torch.inference_mode():
        one = timed(lambda: [encode([d]) for d in docs], a.reps, n, a.device)
        many = timed(lambda: [encode(docs[i:i + a.ref_batch]) for i in range(0, len(docs), a.ref_batch)],
                     a.reps, n, a.device)
    dt = str(dtype).replace("torch.", "")
    return transformers.__version__, [
        dict(side="HF transformers LlamaModel (sdpa), 1 doc/call", dtype=dt, device=a.device, mean=one[0], sd=one[1]),
        dict(side=f"HF transformers LlamaModel (sdpa), {a.ref_batch} docs/call", dtype=dt, device=a.device,
             mean=many[0], sd=many[1])]


def torch_reference(a, folder, docs):
    """tests/reference/llama_reference.py: float64, CPU, one document per call (not HF transformers)."""
    m, sae = load_llama(folder, a.layer), load_sae(os.path.join(folder, "sae.safetensors"))
    mean, sd = timed(lambda: [pool(sae_encode(sae, llama_forward(m, d)).float()) for d in docs], a.reps,
                     a.tokens * a.docs, "cpu")
    return [dict(side="torch reference (not HF transformers): llama_reference.py, 1 doc/call", dtype="float64",
                 device="cpu", mean=mean, sd=sd)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=SHAPES, default="tiny")
    ap.add_argument("--layer", type=int, default=None, help="decoder layer (default: 1 tiny, 19 llama3-8b)")
    ap.add_argument("--tokens", type=int, default=512)
    ap.add_argument("--docs", type=int, default=32)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--dtype", choices=("bfloat16", "float32"), default="bfloat16")
    ap.add_argument("--device", choices=("cuda", "cpu"), default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--reference", choices=("auto", "transformers", "torch"), default="auto")
    ap.add_argument("--ref-batch", type=int, default=8, help="documents per call in the batched HF variant")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads, both sides (0: torch's default)")
    ap.add_argument("--saediff", default=None, help="bench_encode (default build[-cuda]/bench/bench_encode)")
    ap.add_argument("--work", default=None, help="keep the checkpoint here and reuse it (default: temporary, removed)")
    ap.add_argument("--json", default="", help="also write the result to this file (-: one line on standard output)")
    a = ap.parse_args()
    s = SHAPES[a.shape]
    a.layer = s["layer"] if a.layer is None else a.layer
    cuda_exe = os.path.join(ROOT, "build-cuda", "bench", "bench_encode")
    a.saediff = a.saediff or (cuda_exe if a.device == "cuda" and os.path.exists(cuda_exe)
                              else os.path.join(ROOT, "build", "bench", "bench_encode"))
    torch.set_num_threads(a.threads or torch.get_num_threads())
    dtype = getattr(torch, a.dtype)
    reference = a.reference
    if reference != "torch":
        try:
            import transformers  # noqa: F401
            reference = "transformers"
        except ImportError:
            if reference == "transformers":
                sys.exit("--reference transformers: transformers is not importable")
            reference = "torch"
            print("# transformers is not importable: falling back to --reference torch", file=sys.stderr)

    work = a.work or tempfile.mkdtemp(prefix="saediff_hf_")
    folder = os.path.join(work, f"{a.shape}-L{a.layer}-{a.dtype}")
    try:
        if not os.path.exists(os.path.join(folder, "sae.safetensors")):
            t0 = time.perf_counter()
            write_checkpoint(folder, s, a.layer, dtype, a.device)
            print(f"# wrote {folder} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        rng = random.Random(1)
        docs = [[rng.randrange(128000) for _ in range(a.tokens)] for _ in range(a.docs)]
        ids_path = os.path.join(work, "ids.jsonl")
        with open(ids_path, "w") as f:
            f.writelines(json.dumps(d) + "\n" for d in docs)

        # saediff first, in its own process: the GPU is free again before the reference loads.
        cmd = [a.saediff, "--model", folder, "--sae", os.path.join(folder, "sae.safetensors"), "--layer", str(a.layer),
               "--reps", str(a.reps), "--dtype", a.dtype, "--device", a.device, "--threads", str(torch.get_num_threads()), "--json"]
        same_ids = "--ids" in subprocess.run([a.saediff, "--help"], capture_output=True, text=True).stdout
        cmd += ["--ids", ids_path] if same_ids else ["--tokens", str(a.tokens), "--docs", str(a.docs)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"bench_encode failed ({r.returncode}):\n{r.stderr[-2000:]}")
        sd_out = json.loads([line for line in r.stdout.splitlines() if line.startswith("{")][-1])
        rows = [dict(side="saediff bench_encode" + ("" if same_ids else " (own random ids: no --ids)"),
                     dtype=a.dtype, device=a.device, mean=sd_out["tokens_per_s_mean"], sd=sd_out["tokens_per_s_sd"])]

        hf_version = None
        if reference == "transformers":
            hf_version, ref_rows = hf_reference(a, folder, docs, dtype)
        else:
            if a.shape == "llama3-8b":
                print("# warning: the float64 torch reference at the 8B shape takes hours on a CPU", file=sys.stderr)
            ref_rows = torch_reference(a, folder, docs)
        rows += ref_rows
    finally:
        if not a.work:
            shutil.rmtree(work, ignore_errors=True)

    gpu = driver = None
    if a.device == "cuda":
        gpu = torch.cuda.get_device_name(0)
        if shutil.which("nvidia-smi"):
            driver = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                    capture_output=True, text=True).stdout.split("\n")[0].strip() or None
    for row in ref_rows:
        row["ratio"] = rows[0]["mean"] / row["mean"]
    print(f"# hf_side_by_side: saediff {sd_out.get('version')} ({sd_out.get('commit')}), torch {torch.__version__}, "
          f"transformers {hf_version or 'not used'}, device {a.device}" + (f" ({gpu}, driver {driver})" if gpu else "")
          + f", {torch.get_num_threads()} torch threads")
    print(f"# shape {a.shape}: d_model {s['d_model']}, d_ff {s['d_ff']}, heads {s['n_head']}/{s['n_kv']} kv, "
          f"head_dim {s['head_dim']}, vocab {s['vocab']}, layers 0..{a.layer}, d_sae {s['d_sae']}; "
          f"{a.docs} docs x {a.tokens} tokens, {a.reps} reps after a warm-up")
    print("# command: " + " ".join(sys.argv))
    print("# saediff: " + " ".join(cmd))
    if not same_ids:
        print("# note: this bench_encode has no --ids: it ran its own random ids at the same shapes")
    print("# correctness: not compared here (bench_encode outputs no activations; tests/model_vs_reference and the\n"
          "# HF goldens compare the reader and the SAE with the references)\n")
    print("| side | dtype | device | tokens/s | saediff / reference |\n|---|---|---|---:|---:|")
    for row in rows:
        ratio = f"{row['ratio']:.2f}x" if "ratio" in row else "-"
        print(f"| {row['side']} | {row['dtype']} | {row['device']} | {row['mean']:.1f} ± {row['sd']:.1f} | {ratio} |")
    if a.json:
        result = {"bench": "hf_side_by_side", "command": sys.argv, "saediff_command": cmd, "same_ids": same_ids,
                  "torch": torch.__version__, "transformers": hf_version, "gpu": gpu, "driver": driver,
                  "shape": a.shape, "dims": s, "layer": a.layer, "tokens": a.tokens, "docs": a.docs, "reps": a.reps,
                  "dtype": a.dtype, "device": a.device, "ref_batch": a.ref_batch, "threads": torch.get_num_threads(),
                  "rows": rows, "bench_encode": sd_out}
        if a.json == "-":  # one line on standard output, for bench/suite.py
            print(json.dumps(result))
        else:
            with open(a.json, "w") as f:
                json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
