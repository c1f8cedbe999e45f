#!/usr/bin/env python3
"""saediff's reader against the independent float64 reference (tests/reference/llama_reference.py).

Relative error per document, ||ours - ref|| / ||ref||: <= 1e-5 computing in float32, <= 2e-2 in bfloat16, on
documents of 1, 2, 8, 65 and 301 tokens, at the first and the last layer, for:
- the demo's random Llama (4 layers, GQA 4:2, llama3 RoPE via rope_scaling with all three bands, bf16 weights);
- MHA with the default RoPE (float32 weights); q/k/v/o and MLP biases; transformers 5.x `rope_parameters`
  (llama3, theta inside) with an original context of 32 positions, far below the 301-token document, from
  float16 weights; an explicit head_dim that is not hidden_size / heads;
- a sharded copy (model.safetensors.index.json) gives bit-identical outputs;
- a copy whose layer 3 is missing still runs at layer 2 (later layers are never read), and fails clearly at 3;
- the SAE from a torch.save .pth file gives the same encoded.h5 as the same SAE in safetensors."""
import json
import os
import random
import shutil
import subprocess
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.environ["SAEDIFF_SOURCE_DIR"], "tests", "reference"))
import llama_reference as ref  # noqa: E402

SAEDIFF = os.environ["SAEDIFF"]
failures = []


def check(cond, msg):
    print(("ok: " if cond else "FAIL: ") + msg)
    if not cond:
        failures.append(msg)


def forward(model_dir, layer, ids_list, out, dtype="float32"):
    src = out + ".jsonl"
    with open(src, "w") as f:
        for ids in ids_list:
            f.write(json.dumps({"ids": ids}) + "\n")
    return subprocess.run([SAEDIFF, "forward", "--model", model_dir, "--layer", str(layer), "--input", src,
                           "--output", out, "--dtype", dtype, "--threads", "1"], capture_output=True, text=True)


def rel_err(got, want):
    """Relative error of a document's activations: ||ours - ref||_F / ||ref||_F."""
    return ((got.to(torch.float64) - want).norm() / want.norm()).item()


def parity(model_dir, layer, docs, out, dtype, tol, label):
    """saediff forward against the float64 reference, document by document: relative error <= tol."""
    r = forward(model_dir, layer, docs, out, dtype)
    check(r.returncode == 0, f"{label}: forward runs ({r.stderr[-300:] if r.returncode else ''})")
    if r.returncode != 0:
        return
    ours, m = ref.read_safetensors(out), ref.load_llama(model_dir, layer)
    errs = []
    for i, ids in enumerate(docs):
        want = ref.llama_forward(m, ids)
        got = ours[f"doc.{i}"]
        if got.shape != want.shape:
            check(False, f"{label}: doc {i} has shape {list(got.shape)}, expected {list(want.shape)}")
            return
        errs.append(rel_err(got, want))
    check(max(errs) <= tol, f"{label}: max relative error over {len(docs)} documents (T={[len(d) for d in docs]}) "
          f"{max(errs):.2e} <= {tol:.0e}")


def variant(work, name, base_cfg, base_w, edit):
    """A copy of the demo checkpoint with config.json and weights changed by edit(cfg, weights)."""
    vdir = os.path.join(work, name)
    os.makedirs(vdir)
    cfg, wts = json.loads(json.dumps(base_cfg)), {k: v.to(torch.float32) for k, v in base_w.items()}
    wts = edit(cfg, wts) or wts
    json.dump(cfg, open(os.path.join(vdir, "config.json"), "w"))
    ref.write_safetensors(os.path.join(vdir, "model.safetensors"), wts)
    return vdir


# Tolerances (relative Frobenius error per document against the float64 reference):
F32_TOL = 1e-5   # float32 compute: rounding only
BF16_TOL = 2e-2  # bfloat16 compute (8 mantissa bits; float32 RMSNorm, softmax and RoPE tables, as HF)


def main(work):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    model = os.path.join(work, "model")
    subprocess.run([SAEDIFF, "make-demo-model", "--out", model, "--tokenizer", os.environ["SAEDIFF_TOKENIZER_JSON"],
                    "--seed", "77", "--d-sae", "512"], check=True, capture_output=True)
    rng = random.Random(5)
    # A single-token document (BOS alone), short ones, and one of 301 tokens.
    docs = [[128000]] + [[128000] + [rng.randrange(128000) for _ in range(n)] for n in (1, 7, 64, 300)]
    base_cfg = json.load(open(os.path.join(model, "config.json")))
    n_layer = base_cfg["num_hidden_layers"]

    # The demo checkpoint: GQA 4:2, llama3 RoPE (rope_scaling) with all three bands, bf16 weights.
    for layer in (0, 2, n_layer - 1):
        parity(model, layer, docs, os.path.join(work, f"f32-l{layer}.safetensors"), "float32", F32_TOL,
               f"GQA llama3 bf16-weights layer {layer} float32")
    for layer in (0, n_layer - 1):
        parity(model, layer, docs, os.path.join(work, f"bf16-l{layer}.safetensors"), "bfloat16", BF16_TOL,
               f"GQA llama3 bf16-weights layer {layer} bfloat16")

    base_w = ref.read_safetensors(os.path.join(model, "model.safetensors"))
    gen = torch.Generator().manual_seed(11)
    H, d = base_cfg["num_attention_heads"], base_cfg["hidden_size"]
    hd = base_cfg.get("head_dim") or d // H
    L = n_layer

    def mha_default_rope(cfg, w):  # MHA (as many kv heads as heads), default RoPE, float32 weights
        cfg["num_key_value_heads"] = H
        cfg.pop("rope_scaling", None)
        cfg.pop("rope_parameters", None)
        for i in range(L):
            for proj in ("k_proj", "v_proj"):
                w[f"model.layers.{i}.self_attn.{proj}.weight"] = torch.randn(H * hd, d, generator=gen) * 0.05

    def biases(cfg, w):  # attention_bias and mlp_bias: every projection carries a bias
        cfg["attention_bias"], cfg["mlp_bias"] = True, True
        for i in range(L):
            p = f"model.layers.{i}."
            for proj in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                         "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"):
                w[p + proj + ".bias"] = torch.randn(w[p + proj + ".weight"].shape[0], generator=gen) * 0.1

    def rope_parameters_fp16(cfg, w):
        # transformers 5.x layout: rope_parameters holds rope_theta; no rope_scaling. Theta 1e4 and an original
        # context of 32 positions put the 8 wavelengths (6.3 .. 2e4) in all three llama3 bands, and the
        # 301-token document runs well past the original context. Weights stored as float16.
        cfg.pop("rope_scaling", None)
        cfg.pop("rope_theta", None)
        cfg["rope_parameters"] = {"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0, "low_freq_factor": 1.0,
                                  "high_freq_factor": 4.0, "original_max_position_embeddings": 32}
        return {k: v.to(torch.float16) for k, v in w.items()}

    def head_dim_8(cfg, w):  # head_dim given explicitly, != hidden_size / heads (8 * 4 heads = 32 < 64)
        cfg["head_dim"] = 8
        kv = cfg["num_key_value_heads"]
        for i in range(L):
            p = f"model.layers.{i}.self_attn."
            w[p + "q_proj.weight"] = torch.randn(H * 8, d, generator=gen) * 0.1
            w[p + "k_proj.weight"] = torch.randn(kv * 8, d, generator=gen) * 0.1
            w[p + "v_proj.weight"] = torch.randn(kv * 8, d, generator=gen) * 0.1
            w[p + "o_proj.weight"] = torch.randn(d, H * 8, generator=gen) * 0.1

    for name, edit in (("mha-default-rope", mha_default_rope), ("biases", biases),
                       ("rope-parameters-fp16", rope_parameters_fp16), ("head-dim-8", head_dim_8)):
        vdir = variant(work, name, base_cfg, base_w, edit)
        for layer in (0, L - 1):
            parity(vdir, layer, docs, os.path.join(work, f"{name}-l{layer}.safetensors"), "float32", F32_TOL,
                   f"{name} layer {layer} float32")
        parity(vdir, L - 1, docs, os.path.join(work, f"{name}-bf16.safetensors"), "bfloat16", BF16_TOL,
               f"{name} layer {L - 1} bfloat16")

    # Sharded checkpoint: the same tensors split over two files with an index.
    sharded = os.path.join(work, "sharded")
    os.makedirs(sharded)
    shutil.copy(os.path.join(model, "config.json"), sharded)
    raw = {}
    for k, v in ref.read_safetensors(os.path.join(model, "model.safetensors")).items():
        raw[k] = v.to(torch.bfloat16)
    names = sorted(raw)
    half = {n: ("model-00001-of-00002.safetensors" if i % 2 else "model-00002-of-00002.safetensors")
            for i, n in enumerate(names)}
    for fname in set(half.values()):
        ref.write_safetensors(os.path.join(sharded, fname), {n: raw[n] for n in names if half[n] == fname})
    json.dump({"metadata": {}, "weight_map": half}, open(os.path.join(sharded, "model.safetensors.index.json"), "w"))
    a, b = os.path.join(work, "single.safetensors"), os.path.join(work, "shard.safetensors")
    forward(model, 2, docs, a)
    check(forward(sharded, 2, docs, b).returncode == 0, "sharded checkpoint loads")
    sa, sb = ref.read_safetensors(a), ref.read_safetensors(b)
    check(all(torch.equal(sa[k], sb[k]) for k in sa), "sharded checkpoint gives bit-identical outputs")

    # Layers after L are never read: drop layer 3 entirely.
    cut = os.path.join(work, "cut")
    os.makedirs(cut)
    shutil.copy(os.path.join(model, "config.json"), cut)
    ref.write_safetensors(os.path.join(cut, "model.safetensors"),
                          {n: t for n, t in raw.items() if not n.startswith("model.layers.3.")})
    c = os.path.join(work, "cut.safetensors")
    check(forward(cut, 2, docs, c).returncode == 0, "a checkpoint without layer 3 runs at layer 2")
    check(all(torch.equal(sa[k], ref.read_safetensors(c)[k]) for k in sa), "... with identical outputs")
    r = forward(cut, 3, docs, os.path.join(work, "cut3.safetensors"))
    check(r.returncode != 0 and "model.layers.3." in r.stderr, "layer 3 of that checkpoint fails naming the tensor")

    # SAE: torch.save .pth (Debian torch) against the same state dict in safetensors, through encode.
    sae_st = os.path.join(model, "sae.safetensors")
    sae_pth = os.path.join(work, "sae.pth")
    torch.save({k: v.to(torch.float32) for k, v in ref.read_safetensors(sae_st).items()}, sae_pth)
    responses = os.path.join(os.environ["SAEDIFF_SOURCE_DIR"], "configs", "demo", "responses.jsonl")
    outs = {}
    for name, sae in (("st", sae_st), ("pth", sae_pth)):
        outs[name] = os.path.join(work, f"enc-{name}.h5")
        r = subprocess.run([SAEDIFF, "encode", "--responses", responses, "--model", model, "--sae", sae, "--layer", "1",
                            "--out", outs[name], "--threads", "1"], capture_output=True, text=True)
        check(r.returncode == 0, f"encode with the {name} SAE runs ({r.stderr[-300:] if r.returncode else ''})")
    with h5py.File(outs["st"]) as fa, h5py.File(outs["pth"]) as fb:
        same = all(np.array_equal(fa[f"sets/{s}/max/{d}"][()], fb[f"sets/{s}/max/{d}"][()])
                   for s in ("terse", "verbose") for d in ("indptr", "indices", "values"))
    check(same, "the .pth SAE encodes identically to the safetensors SAE")

    print(f"model_vs_reference: {len(failures)} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main(sys.argv[1])
