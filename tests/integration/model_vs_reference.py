#!/usr/bin/env python3
"""saediff's reader against the independent float64 reference (tests/reference/llama_reference.py).

On the demo's random Llama (4 layers, GQA 4:2, llama3 RoPE with all three frequency bands, bf16 weights):
- `saediff forward` at layers 0 and 2, float32: max |ours - ref| <= 1e-4 * (1 + max |ref|) per document;
- bfloat16: relative RMS error <= 3e-2 (bf16 keeps 8 mantissa bits; errors compound over layers);
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


def main(work):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    model = os.path.join(work, "model")
    subprocess.run([SAEDIFF, "make-demo-model", "--out", model, "--tokenizer", os.environ["SAEDIFF_TOKENIZER_JSON"],
                    "--seed", "77", "--d-sae", "512"], check=True, capture_output=True)
    rng = random.Random(5)
    docs = [[128000] + [rng.randrange(128000) for _ in range(n)] for n in (1, 7, 64, 300)]

    for layer in (0, 2):
        out = os.path.join(work, f"f32-l{layer}.safetensors")
        r = forward(model, layer, docs, out)
        check(r.returncode == 0, f"forward layer {layer} float32 runs ({r.stderr[-300:] if r.returncode else ''})")
        ours = ref.read_safetensors(out)
        m = ref.load_llama(model, layer)
        for i, ids in enumerate(docs):
            want = ref.llama_forward(m, ids)
            got = ours[f"doc.{i}"].to(torch.float64)
            err = (got - want).abs().max().item()
            tol = 1e-4 * (1 + want.abs().max().item())
            check(got.shape == want.shape and err <= tol,
                  f"layer {layer} float32 doc {i} (T={len(ids)}): max abs err {err:.2e} <= {tol:.2e}")

    m2 = ref.load_llama(model, 2)
    out = os.path.join(work, "bf16.safetensors")
    check(forward(model, 2, docs, out, "bfloat16").returncode == 0, "forward bfloat16 runs")
    ours = ref.read_safetensors(out)
    for i, ids in enumerate(docs):
        want = ref.llama_forward(m2, ids)
        rel = ((ours[f"doc.{i}"].double() - want).norm() / want.norm()).item()
        check(rel <= 3e-2, f"bfloat16 doc {i}: relative RMS error {rel:.2e} <= 3e-2")

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
