#!/usr/bin/env python3
"""Bad checkpoints through `saediff forward` and `saediff encode`: each gets exit code 1 and one clear error
naming the file and, where there is one, the tensor; never a crash (signal, abort, uncaught exception), and
no output file.

  checkpoint_errors.py WORK_DIR

Covers: a file cut inside the header and inside the data, a header whose offsets lie (past the end, and
overlapping), an unknown dtype, a missing tensor, a wrong shape, NaN and infinite weights, another
architecture, an unsupported RoPE type, config.json that is no JSON, a sharded index naming a missing shard,
an index without the tensor, and an SAE without a decoder tensor or of the wrong width."""
import json
import os
import shutil
import struct
import subprocess
import sys

import torch

sys.path.insert(0, os.path.join(os.environ["SAEDIFF_SOURCE_DIR"], "tests", "reference"))
import llama_reference as ref  # noqa: E402

SAEDIFF = os.environ["SAEDIFF"]
failures = []


def check(cond, msg):
    print(("ok: " if cond else "FAIL: ") + msg)
    if not cond:
        failures.append(msg)


def header_of(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + n]), data[8 + n:]


def write_raw(path, header, body):
    h = json.dumps(header).encode()
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + body)


def expect_error(label, argv, *needles):
    out = argv[argv.index("--output") + 1] if "--output" in argv else argv[argv.index("--out") + 1]
    p = subprocess.run([SAEDIFF] + argv, capture_output=True, text=True, timeout=300)
    crashed = p.returncode < 0 or any(s in p.stderr for s in ("terminate called", "Segmentation", "Aborted",
                                                              "AddressSanitizer", "runtime error:"))
    errors = [line for line in p.stderr.splitlines() if "error" in line.lower()]
    ok = (p.returncode == 1 and not crashed and all(n in p.stderr for n in needles) and not os.path.exists(out)
          and len(errors) >= 1)
    check(ok, f"{label}: exit {p.returncode}, names {needles}" + ("" if ok else f"\n    stderr: {p.stderr[-600:]}"))


def main(work):
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    good = os.path.join(work, "good")
    subprocess.run([SAEDIFF, "make-demo-model", "--out", good, "--tokenizer", os.environ["SAEDIFF_TOKENIZER_JSON"],
                    "--seed", "3", "--d-sae", "256"], check=True, capture_output=True)
    ids = os.path.join(work, "ids.jsonl")
    open(ids, "w").write(json.dumps({"ids": [128000, 9906, 1917]}) + "\n")
    weights = ref.read_safetensors(os.path.join(good, "model.safetensors"))
    header, body = header_of(os.path.join(good, "model.safetensors"))
    n = [0]

    def model_with(label, edit_files):
        """A copy of the good checkpoint, changed by edit_files(dir)."""
        n[0] += 1
        d = os.path.join(work, f"m{n[0]}")
        shutil.copytree(good, d)
        edit_files(d)
        return d

    def fwd(d, layer=1):
        return ["forward", "--model", d, "--layer", str(layer), "--input", ids, "--output",
                os.path.join(work, f"out{n[0]}-l{layer}.safetensors"), "--threads", "1"]

    st = "model.safetensors"
    p = os.path.join
    raw = open(p(good, st), "rb").read()

    d = model_with("cut-header", lambda d: open(p(d, st), "wb").write(raw[:200]))
    expect_error("a file cut inside its header", fwd(d), p(d, st), "header length")
    d = model_with("cut-data", lambda d: open(p(d, st), "wb").write(raw[:len(raw) - 1000]))
    expect_error("a file cut inside its data", fwd(d), p(d, st), "outside the data area")

    def lie(name, field, value):
        def edit(d):
            h = json.loads(json.dumps(header))
            h[name][field] = value
            write_raw(p(d, st), h, body)
        return edit

    victim = "model.layers.1.mlp.up_proj.weight"
    a, b = header[victim]["data_offsets"]
    d = model_with("past-end", lie(victim, "data_offsets", [a + len(body), b + len(body)]))
    expect_error("offsets past the end of the file", fwd(d), p(d, st), victim, "outside the data area")
    other = "model.layers.0.mlp.up_proj.weight"
    d = model_with("overlap", lie(victim, "data_offsets", header[other]["data_offsets"]))
    expect_error("offsets overlapping another tensor", fwd(d), p(d, st), "overlap")
    d = model_with("dtype", lie(victim, "dtype", "F8_E4M3"))
    expect_error("an unknown dtype", fwd(d), p(d, st), victim, "F8_E4M3")
    shape = header[victim]["shape"]
    d = model_with("shape", lie(victim, "shape", shape[::-1]))
    expect_error("a wrong shape", fwd(d), st, victim, f"[{shape[1]}, {shape[0]}]", f"[{shape[0]}, {shape[1]}]")

    def drop(d):
        ref.write_safetensors(p(d, st), {k: v.to(torch.bfloat16) for k, v in weights.items() if k != victim})
    d = model_with("missing", drop)
    expect_error("a missing tensor", fwd(d), st, victim, "missing")

    for bad in ("nan", "inf"):
        def poison(d, bad=bad):
            w = {k: v.clone() for k, v in weights.items()}
            w[victim].view(-1)[17] = float(bad)
            ref.write_safetensors(p(d, st), w)
        d = model_with(bad, poison)
        expect_error(f"{bad} weights", fwd(d), st, victim, "NaN or infinite")
    # Layers after L are never read, so a poisoned layer 3 does not stop layer 1 - but does stop layer 3.
    def poison3(d):
        w = {k: v.clone() for k, v in weights.items()}
        w["model.layers.3.mlp.up_proj.weight"].view(-1)[0] = float("nan")
        ref.write_safetensors(p(d, st), w)
    d = model_with("nan3", poison3)
    r = subprocess.run([SAEDIFF] + fwd(d, 1), capture_output=True, text=True)
    check(r.returncode == 0, "NaN in layer 3 does not matter at layer 1 (never read)")
    expect_error("... and is refused at layer 3", fwd(d, 3), "model.layers.3.mlp.up_proj.weight", "NaN")

    def config_edit(change):
        def edit(d):
            cfg = json.load(open(p(d, "config.json")))
            change(cfg)
            json.dump(cfg, open(p(d, "config.json"), "w"))
        return edit
    d = model_with("qwen", config_edit(lambda c: c.update(model_type="qwen2", architectures=["Qwen2ForCausalLM"])))
    expect_error("another architecture", fwd(d), "config.json", "unsupported architecture", "Qwen2ForCausalLM")
    d = model_with("yarn", config_edit(lambda c: c["rope_scaling"].update(rope_type="yarn")))
    expect_error("an unsupported RoPE type", fwd(d), "config.json", "'yarn'")
    d = model_with("notjson", lambda d: open(p(d, "config.json"), "w").write("{\"hidden_size\": 64,"))
    expect_error("config.json that is no JSON", fwd(d), p(d, "config.json"))
    d = model_with("layer", lambda d: None)
    expect_error("a layer the model does not have", fwd(d, 9), "layer 9", "0..3")

    def sharded(missing_file, drop_name):
        def edit(d):
            os.remove(p(d, st))
            names = sorted(weights)
            wm = {k: ("model-00001-of-00002.safetensors" if i % 2 else "model-00002-of-00002.safetensors")
                  for i, k in enumerate(names)}
            for f in set(wm.values()):
                if f != missing_file:
                    ref.write_safetensors(p(d, f), {k: weights[k].to(torch.bfloat16) for k in names if wm[k] == f})
            if drop_name:
                wm.pop(drop_name)
            json.dump({"metadata": {}, "weight_map": wm}, open(p(d, "model.safetensors.index.json"), "w"))
        return edit
    d = model_with("shard", sharded("model-00002-of-00002.safetensors", None))
    expect_error("an index naming a missing shard", fwd(d), "model-00002-of-00002.safetensors")
    d = model_with("index", sharded(None, victim))
    expect_error("an index without the tensor", fwd(d), victim, "weight map")

    # The SAE, through encode: a missing decoder tensor and an SAE of another width.
    sae = ref.read_safetensors(p(good, "sae.safetensors"))
    enc = ["encode", "--responses", p(os.environ["SAEDIFF_SOURCE_DIR"], "configs", "demo", "responses.jsonl"),
           "--model", good, "--layer", "1", "--threads", "1"]
    nodec = p(work, "nodec.safetensors")
    ref.write_safetensors(nodec, {k: v for k, v in sae.items() if k != "decoder_linear.bias"})
    expect_error("an SAE without decoder_linear.bias", enc + ["--sae", nodec, "--out", p(work, "e1.h5")],
                 nodec, "decoder_linear.bias")
    wide = p(work, "wide.safetensors")
    F = sae["encoder_linear.weight"].shape[0]
    ref.write_safetensors(wide, {"encoder_linear.weight": torch.zeros(F, 96), "encoder_linear.bias": torch.zeros(F),
                                 "decoder_linear.weight": torch.zeros(96, F), "decoder_linear.bias": torch.zeros(96)})
    expect_error("an SAE for another hidden size", enc + ["--sae", wide, "--out", p(work, "e2.h5")],
                 wide, f"[{F}, 96], expected [{F}, 64]")

    print(f"checkpoint_errors: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
