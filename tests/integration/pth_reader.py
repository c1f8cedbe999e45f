#!/usr/bin/env python3
"""saediff's own torch.save reader (src/model/pth.*) against torch.load (Debian python3-torch).

  pth_reader.py PTH_DUMP WORK_DIR [DEMO_RUN_DIR]

Reads back, value for value (float64 comparison, exact): a real module's state_dict (OrderedDict with
_metadata, BUILD), every dtype saediff reads, non-contiguous and offset views, views sharing one storage,
nn.Parameter, empty and 0-dim tensors. Refuses, with a clear message and without running anything: a pickle
calling os.system, a nested dict, a truncated file, a compressed entry, a missing storage entry, a big-endian
archive, the legacy (pre-zip) format, and bytes that are no zip at all. With DEMO_RUN_DIR, `saediff encode`
names the tensor and both shapes for a wrongly shaped SAE, refuses NaN weights and other architectures, and
resolves --model/--sae repo ids in a Hugging Face cache to the same results as the folders."""
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile

import torch

DUMP = sys.argv[1]
failures = []


def check(cond, msg):
    print(("ok: " if cond else "FAIL: ") + msg)
    if not cond:
        failures.append(msg)


def dump(path):
    p = subprocess.run([DUMP, path], capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        return {"error": f"exit {p.returncode}: {p.stderr[-300:]}"}
    return json.loads(p.stdout)


def same(path, want):
    got = dump(path)
    if "error" in got:
        return f"error: {got['error']}"
    if sorted(got) != sorted(want):
        return f"names {sorted(got)} != {sorted(want)}"
    names = {torch.float32: "float32", torch.float64: "float64", torch.float16: "float16", torch.bfloat16: "bfloat16",
             torch.int64: "int64", torch.int32: "int32", torch.int16: "int16", torch.int8: "int8", torch.uint8: "uint8",
             torch.bool: "bool"}
    for k, t in want.items():
        g = got[k]
        if g["dtype"] != names[t.dtype] or g["shape"] != list(t.shape):
            return f"{k}: {g['dtype']} {g['shape']} != {names[t.dtype]} {list(t.shape)}"
        ref = t.detach().to(torch.float64).reshape(-1).tolist()
        if g["values"] != ref:
            return f"{k}: values differ"
    return None


def rewrite_zip(src, dst, edit):
    """Copies the zip archive src to dst, passing each (name, bytes) through edit (None drops the entry)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as zout:
        for info in zin.infolist():
            out = edit(info.filename, zin.read(info.filename))
            if out is not None:
                name, data, method = out
                zout.writestr(zipfile.ZipInfo(name), data, compress_type=method)


class Evil:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


def main(work):
    global MARKER
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    MARKER = os.path.join(work, "pwned")
    torch.manual_seed(0)

    # A real module's state dict: OrderedDict with _metadata, a BatchNorm's int64 counter.
    m = torch.nn.Sequential(torch.nn.Linear(5, 3), torch.nn.BatchNorm1d(3), torch.nn.Embedding(7, 2))
    sd = m.state_dict()
    torch.save(sd, os.path.join(work, "module.pth"))
    err = same(os.path.join(work, "module.pth"), dict(sd))
    check(err is None, f"a module's state_dict reads back exactly ({err})")

    # Every dtype, views, shared storage, Parameter, empty and 0-dim tensors.
    base = torch.randn(6, 8)
    tensors = {
        "f32": torch.randn(3, 4), "f64": torch.randn(5, dtype=torch.float64), "f16": torch.randn(4, 2).half(),
        "bf16": torch.randn(9).bfloat16(), "i64": torch.arange(-5, 5), "i32": torch.arange(6, dtype=torch.int32),
        "i16": torch.tensor([-300, 7], dtype=torch.int16), "i8": torch.tensor([-3, 4], dtype=torch.int8),
        "u8": torch.tensor([0, 255], dtype=torch.uint8), "bool": torch.tensor([True, False, True]),
        "transposed": base.t(), "slice": base[2:5, 1:7], "every_other": base[:, ::2], "row": base[4],
        "param": torch.nn.Parameter(torch.randn(2, 3)), "empty": torch.zeros(0, 4), "scalar": torch.tensor(3.5),
    }
    torch.save(tensors, os.path.join(work, "mixed.pth"))
    err = same(os.path.join(work, "mixed.pth"), tensors)
    check(err is None, f"every dtype, strided and offset views of one storage, Parameter, empty, 0-dim ({err})")

    # Refusals.
    torch.save({"w": torch.ones(2), "evil": Evil()}, os.path.join(work, "evil.pth"))
    got = dump(os.path.join(work, "evil.pth"))
    check("refusing pickle global posix.system" in got.get("error", "") and not os.path.exists(MARKER),
          f"a pickle calling os.system is refused by name and runs nothing ({got.get('error', got)!s:.160})")
    torch.save({"state_dict": {"w": torch.ones(2)}}, os.path.join(work, "nested.pth"))
    check("is not a tensor" in dump(os.path.join(work, "nested.pth")).get("error", ""), "a nested dict is refused")
    data = open(os.path.join(work, "mixed.pth"), "rb").read()
    for cut in (len(data) // 2, len(data) - 10, 30):
        open(os.path.join(work, "cut.pth"), "wb").write(data[:cut])
        e = dump(os.path.join(work, "cut.pth")).get("error", "")
        if not e:
            check(False, f"a file cut at {cut} bytes is refused")
            break
    else:
        check(True, "truncated files are refused with a message")
    src = os.path.join(work, "mixed.pth")
    rewrite_zip(src, os.path.join(work, "deflate.pth"), lambda n, b: (n, b, zipfile.ZIP_DEFLATED))
    check("compressed" in dump(os.path.join(work, "deflate.pth")).get("error", ""), "a compressed entry is refused")
    rewrite_zip(src, os.path.join(work, "nostorage.pth"), lambda n, b: None if n.endswith("/data/0") else (n, b, 0))
    check("has no entry" in dump(os.path.join(work, "nostorage.pth")).get("error", ""),
          "a missing storage entry is refused, naming it")
    rewrite_zip(src, os.path.join(work, "big.pth"),
                lambda n, b: (n, b"big" if n.endswith("/byteorder") else b, 0))
    got = dump(os.path.join(work, "big.pth"))
    check("byteorder" in got.get("error", "") or "byteorder" not in str(zipfile.ZipFile(src).namelist()),
          "a big-endian archive is refused")
    torch.save({"w": torch.ones(2)}, os.path.join(work, "legacy.pth"), _use_new_zipfile_serialization=False)
    check("legacy" in dump(os.path.join(work, "legacy.pth")).get("error", ""), "the legacy (pre-zip) format is refused")
    open(os.path.join(work, "junk.pth"), "wb").write(os.urandom(5000))
    check("error" in dump(os.path.join(work, "junk.pth")), "random bytes are refused")

    # Through `saediff encode`: wrong shapes and NaN weights.
    if len(sys.argv) > 3:
        run = sys.argv[3]
        sys.path.insert(0, os.path.join(os.environ["SAEDIFF_SOURCE_DIR"], "tests", "reference"))
        import llama_reference as ref
        model = os.path.join(run, "demo-model")
        sae = {k: v.to(torch.float32) for k, v in ref.read_safetensors(os.path.join(model, "sae.safetensors")).items()}
        enc = [os.environ["SAEDIFF"], "encode", "--responses",
               os.path.join(os.environ["SAEDIFF_SOURCE_DIR"], "configs", "demo", "responses.jsonl"),
               "--model", model, "--layer", "2", "--threads", "1"]
        bad = dict(sae)
        bad["decoder_linear.weight"] = sae["decoder_linear.weight"][:, :-1].clone()
        torch.save(bad, os.path.join(work, "shape.pth"))
        p = subprocess.run(enc + ["--sae", os.path.join(work, "shape.pth"), "--out", os.path.join(work, "s.h5")],
                           capture_output=True, text=True)
        d_model, d_sae = sae["decoder_linear.weight"].shape
        check(p.returncode != 0 and f"decoder_linear.weight has shape [{d_model}, {d_sae - 1}], expected [{d_model}, {d_sae}]"
              in p.stderr and not os.path.exists(os.path.join(work, "s.h5")),
              "a wrongly shaped SAE tensor: one message with the file, the tensor and both shapes; nothing written")
        nan = dict(sae)
        nan["encoder_linear.weight"] = sae["encoder_linear.weight"].clone()
        nan["encoder_linear.weight"][3, 5] = float("nan")
        torch.save(nan, os.path.join(work, "nan.pth"))
        p = subprocess.run(enc + ["--sae", os.path.join(work, "nan.pth"), "--out", os.path.join(work, "n.h5")],
                           capture_output=True, text=True)
        check(p.returncode != 0 and "encoder_linear.weight holds NaN" in p.stderr, "NaN weights are refused by name")

        # Repo ids resolved in a Hugging Face cache laid out as huggingface_hub does (refs/main -> snapshot).
        hub = os.path.join(work, "hf", "hub")
        llama = os.path.join(hub, "models--meta-llama--Llama-3.1-8B-Instruct")
        os.makedirs(os.path.join(llama, "refs"))
        open(os.path.join(llama, "refs", "main"), "w").write("abc123")
        shutil.copytree(model, os.path.join(llama, "snapshots", "abc123"), ignore=shutil.ignore_patterns("sae.*"))
        gf = os.path.join(hub, "models--Goodfire--Llama-3.1-8B-Instruct-SAE-l19")
        os.makedirs(os.path.join(gf, "snapshots", "def456"))
        torch.save(sae, os.path.join(gf, "snapshots", "def456", "Llama-3.1-8B-Instruct-SAE-l19.pth"))
        env = dict(os.environ, HF_HOME=os.path.join(work, "hf"))
        env.pop("HF_HUB_CACHE", None)
        out = os.path.join(work, "hub.h5")
        p = subprocess.run([os.environ["SAEDIFF"], "encode", "--responses", enc[3], "--model",
                            "meta-llama/Llama-3.1-8B-Instruct", "--sae", "Goodfire/Llama-3.1-8B-Instruct-SAE-l19",
                            "--layer", "2", "--threads", "1", "--out", out], capture_output=True, text=True, env=env)
        import h5py
        same_values = p.returncode == 0
        if same_values:
            with h5py.File(out) as a, h5py.File(os.path.join(run, "encoded.h5")) as b:
                for s_ in a["sets"]:
                    for k in ("max/indices", "max/values", "sum/values"):
                        same_values = same_values and (a["sets"][s_][k][()] == b["sets"][s_][k][()]).all()
        check(same_values, "--model and --sae as repo ids from the HF cache encode exactly as the demo's folders "
              f"({p.stderr[-300:] if p.returncode else 'same max and sum'})")
        p = subprocess.run([os.environ["SAEDIFF"], "encode", "--responses", enc[3], "--model", "meta-llama/Nope",
                            "--sae", os.path.join(model, "sae.safetensors"), "--layer", "2", "--out", out],
                           capture_output=True, text=True, env=env)
        check(p.returncode != 0 and "models--meta-llama--Nope" in p.stderr, "a repo id not in the cache: the paths searched")
        other = os.path.join(work, "mistral")
        shutil.copytree(model, other)
        cfg = json.load(open(os.path.join(other, "config.json")))
        cfg["model_type"], cfg["architectures"] = "mistral", ["MistralForCausalLM"]
        json.dump(cfg, open(os.path.join(other, "config.json"), "w"))
        p = subprocess.run(enc[:5] + [other] + enc[6:] + ["--sae", os.path.join(model, "sae.safetensors"), "--out", out],
                           capture_output=True, text=True)
        check(p.returncode != 0 and "unsupported architecture" in p.stderr and "MistralForCausalLM" in p.stderr,
              "another architecture is refused by name")
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[2]))
