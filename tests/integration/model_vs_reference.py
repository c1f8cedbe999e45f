#!/usr/bin/env python3
"""saediff's reader against the independent float64 reference (tests/reference/llama_reference.py).

Relative error per document, ||ours - ref|| / ||ref||: <= 1e-5 computing in float32, <= 2e-2 in bfloat16, on
documents of 1, 2, 8, 65 and 301 tokens, at the first and the last layer, for:
- the demo's random Llama (4 layers, GQA 4:2, llama3 RoPE via rope_scaling with all three bands, bf16 weights);
- MHA with the default RoPE (float32 weights); q/k/v/o and MLP biases; transformers 5.x `rope_parameters`
  (llama3, theta inside) with an original context of 32 positions, far below the 301-token document, from
  float16 weights; an explicit head_dim that is not hidden_size / heads (tests/reference/llama_variants.py);
- where tests/goldens/hf holds HF transformers' own activations for the same checkpoints (recorded by
  tests/reference/make_hf_goldens.py), saediff against those too, with the same tolerances;
- a sharded copy (model.safetensors.index.json) gives bit-identical outputs;
- a copy whose layer 3 is missing still runs at layer 2 (later layers are never read), and fails clearly at 3;
- the SAE from a torch.save .pth file gives the same encoded.h5 as the same SAE in safetensors."""
import hashlib
import json
import os
import shutil
import subprocess
import sys

import h5py
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.environ["SAEDIFF_SOURCE_DIR"], "tests", "reference"))
import llama_reference as ref  # noqa: E402
import llama_variants as variants  # noqa: E402

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


# Tolerances (relative Frobenius error per document against the float64 reference):
F32_TOL = 1e-5   # float32 compute: rounding only
BF16_TOL = 2e-2  # bfloat16 compute (8 mantissa bits; float32 RMSNorm, softmax and RoPE tables, as HF)


def hf_goldens(models, docs, work):
    """saediff against HF transformers' own activations, recorded by tests/reference/make_hf_goldens.py on a host
    with transformers 5.x (tests/goldens/hf, or $SAEDIFF_HF_GOLDENS). Float32: saediff and the float64
    reference each within F32_TOL of HF; bfloat16: saediff's bfloat16 within BF16_TOL of HF's (sdpa)."""
    gdir = os.environ.get("SAEDIFF_HF_GOLDENS") or os.path.join(os.environ["SAEDIFF_SOURCE_DIR"], "tests", "goldens", "hf")
    manifest_path = os.path.join(gdir, "manifest.json")
    if not os.path.exists(manifest_path):
        print(f"skip: no HF goldens at {gdir} (make them with tests/reference/make_hf_goldens.py on a host with "
              "transformers 5.x); the float64 reference above still applies")
        return
    manifest = json.load(open(manifest_path))
    check(manifest["docs"] == docs, "the goldens were made from the same documents")
    for name, sums in manifest["checkpoints"].items():
        for f, want in sums.items():
            got = hashlib.sha256(open(os.path.join(models[name], f), "rb").read()).hexdigest()
            check(got == want, f"HF goldens: {name}/{f} is the checkpoint the goldens were made from")
    for g in manifest["goldens"]:
        name, layer, dtype = g["checkpoint"], g["layer"], g["dtype"]
        label = f"HF {manifest['transformers']} golden {name} layer {layer} {dtype}"
        want = ref.read_safetensors(os.path.join(gdir, g["file"]))
        out = os.path.join(work, f"golden-{name}-l{layer}-{dtype}.safetensors")
        r = forward(models[name], layer, docs, out, dtype)
        check(r.returncode == 0, f"{label}: forward runs ({r.stderr[-300:] if r.returncode else ''})")
        if r.returncode != 0:
            continue
        ours = ref.read_safetensors(out)
        tol = F32_TOL if dtype == "float32" else BF16_TOL
        err = max(rel_err(ours[f"doc.{i}"], want[f"doc.{i}"].double()) for i in range(len(docs)))
        check(err <= tol, f"{label}: saediff max relative error {err:.2e} <= {tol:.0e}")
        if dtype == "float32":
            m = ref.load_llama(models[name], layer)
            err = max(rel_err(want[f"doc.{i}"], ref.llama_forward(m, ids)) for i, ids in enumerate(docs))
            check(err <= F32_TOL, f"{label}: the float64 reference agrees with HF, max relative error {err:.2e}")


def main(work):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    docs = variants.DOCS  # 1, 2, 8, 65 and 301 tokens
    models = variants.make_checkpoints(SAEDIFF, os.environ["SAEDIFF_TOKENIZER_JSON"], work)
    model = models["gqa-llama3-bf16"]
    n_layer = json.load(open(os.path.join(model, "config.json")))["num_hidden_layers"]

    # The demo checkpoint: GQA 4:2, llama3 RoPE (rope_scaling) with all three bands, bf16 weights.
    for layer in (0, 2, n_layer - 1):
        parity(model, layer, docs, os.path.join(work, f"f32-l{layer}.safetensors"), "float32", F32_TOL,
               f"gqa-llama3-bf16 layer {layer} float32")
    parity(model, 0, docs, os.path.join(work, "bf16-l0.safetensors"), "bfloat16", BF16_TOL,
           "gqa-llama3-bf16 layer 0 bfloat16")
    # Every variant at the first and the last layer in float32, the last in bfloat16.
    for name in variants.VARIANTS:
        for layer in (0, n_layer - 1):
            parity(models[name], layer, docs, os.path.join(work, f"{name}-l{layer}.safetensors"), "float32", F32_TOL,
                   f"{name} layer {layer} float32")
    for name in models:
        parity(models[name], n_layer - 1, docs, os.path.join(work, f"{name}-bf16.safetensors"), "bfloat16", BF16_TOL,
               f"{name} layer {n_layer - 1} bfloat16")
    hf_goldens(models, docs, work)

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
