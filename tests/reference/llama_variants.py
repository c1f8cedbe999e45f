#!/usr/bin/env python3
"""The tiny Llama checkpoints the parity tests and the HF golden generator share, made the same way on any
machine: the base is `saediff make-demo-model --seed 77` (saediff's own PRNG), and every weight a variant
adds is a closed-form function of its index (no library PRNG, whose streams differ between torch versions).

  make_checkpoints(saediff, tokenizer_json, work) -> {name: folder}
  DOCS: the token-id documents (1, 2, 8, 65 and 301 tokens)"""
import json
import math
import os
import random
import shutil
import subprocess

import torch

import llama_reference as ref


def _docs():
    rng = random.Random(5)  # Python's Mersenne Twister: the same stream on every version
    return [[128000]] + [[128000] + [rng.randrange(128000) for _ in range(n)] for n in (1, 7, 64, 300)]


DOCS = _docs()


def det_weights(shape, salt, scale):
    """scale * sin(i * 0.7548776662 + salt * 0.5698402910) over the flat index i: deterministic everywhere."""
    n = math.prod(shape)
    i = torch.arange(n, dtype=torch.float64)
    return (torch.sin(i * 0.7548776662466927 + salt * 0.5698402909980532) * scale).to(torch.float32).reshape(shape)


def _mha_default_rope(cfg, w):
    """MHA (as many kv heads as heads) with the default RoPE, float32 weights."""
    H, d, hd = cfg["num_attention_heads"], cfg["hidden_size"], cfg["head_dim"]
    cfg["num_key_value_heads"] = H
    cfg.pop("rope_scaling", None)
    cfg.pop("rope_parameters", None)
    for i in range(cfg["num_hidden_layers"]):
        for j, proj in enumerate(("k_proj", "v_proj")):
            w[f"model.layers.{i}.self_attn.{proj}.weight"] = det_weights((H * hd, d), 10 * i + j, 0.05)


def _biases(cfg, w):
    """attention_bias and mlp_bias: every projection carries a bias."""
    cfg["attention_bias"], cfg["mlp_bias"] = True, True
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        for j, proj in enumerate(("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                                  "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")):
            w[p + proj + ".bias"] = det_weights((w[p + proj + ".weight"].shape[0],), 100 + 10 * i + j, 0.1)


def _rope_parameters_fp16(cfg, w):
    """transformers 5.x layout: rope_parameters holds rope_theta, no rope_scaling. Theta 1e4 and an original
    context of 32 positions put the 8 wavelengths (6.3 .. 2e4) in all three llama3 bands, and the 301-token
    document runs far past the original context. Weights stored as float16."""
    cfg.pop("rope_scaling", None)
    cfg.pop("rope_theta", None)
    cfg["rope_parameters"] = {"rope_type": "llama3", "rope_theta": 10000.0, "factor": 8.0, "low_freq_factor": 1.0,
                              "high_freq_factor": 4.0, "original_max_position_embeddings": 32}
    return {k: v.to(torch.float16) for k, v in w.items()}


def _head_dim_8(cfg, w):
    """head_dim given explicitly and != hidden_size / heads (8 x 4 heads = 32 < 64)."""
    H, kv, d = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["hidden_size"]
    cfg["head_dim"] = 8
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}.self_attn."
        w[p + "q_proj.weight"] = det_weights((H * 8, d), 200 + 10 * i, 0.1)
        w[p + "k_proj.weight"] = det_weights((kv * 8, d), 201 + 10 * i, 0.1)
        w[p + "v_proj.weight"] = det_weights((kv * 8, d), 202 + 10 * i, 0.1)
        w[p + "o_proj.weight"] = det_weights((d, H * 8), 203 + 10 * i, 0.1)


VARIANTS = {"mha-default-rope": _mha_default_rope, "biases": _biases,
            "rope-parameters-fp16": _rope_parameters_fp16, "head-dim-8": _head_dim_8}


def make_checkpoints(saediff, tokenizer_json, work):
    """The demo checkpoint ('gqa-llama3-bf16': GQA 4:2, llama3 RoPE via rope_scaling, bf16 weights, with its
    SAE) and the VARIANTS derived from it, each in its own folder under work."""
    base = os.path.join(work, "gqa-llama3-bf16")
    shutil.rmtree(base, ignore_errors=True)
    subprocess.run([saediff, "make-demo-model", "--out", base, "--tokenizer", tokenizer_json, "--seed", "77",
                    "--d-sae", "512"], check=True, capture_output=True)
    out = {"gqa-llama3-bf16": base}
    base_cfg = json.load(open(os.path.join(base, "config.json")))
    base_cfg.setdefault("head_dim", base_cfg["hidden_size"] // base_cfg["num_attention_heads"])
    base_w = ref.read_safetensors(os.path.join(base, "model.safetensors"))
    for name, edit in VARIANTS.items():
        vdir = os.path.join(work, name)
        shutil.rmtree(vdir, ignore_errors=True)
        os.makedirs(vdir)
        cfg, w = json.loads(json.dumps(base_cfg)), {k: v.to(torch.float32) for k, v in base_w.items()}
        w = edit(cfg, w) or w
        json.dump(cfg, open(os.path.join(vdir, "config.json"), "w"), indent=1)
        ref.write_safetensors(os.path.join(vdir, "model.safetensors"), w)
        out[name] = vdir
    return out
