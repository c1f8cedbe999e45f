#!/usr/bin/env python3
"""An independent reference for saediff's reader and SAE, in plain Python/torch (Debian python3-torch).

It follows HF transformers' LlamaForCausalLM semantics (RMSNorm, llama3 RoPE scaling, GQA, SwiGLU) and
Goodfire's SAE encode, computing in float64 so that it is a stricter reference than the float32 code under
test. It reads safetensors itself (header JSON + raw bytes) and shares no code with saediff."""
import json
import math
import os
import struct

import numpy as np
import torch

DTYPES = {"F32": (np.float32, None), "F16": (np.float16, None), "BF16": (np.uint16, torch.bfloat16),
          "F64": (np.float64, None), "I64": (np.int64, None), "I32": (np.int32, None)}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        np_type, torch_type = DTYPES[info["dtype"]]
        a, b = info["data_offsets"]
        arr = np.frombuffer(data[base + a:base + b], dtype=np_type).reshape(info["shape"])
        if torch_type is torch.bfloat16:  # bf16 bits are the top half of a float32
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        t = torch.from_numpy(arr.copy())
        out[name] = t
    return out


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.contiguous()
        if t.dtype == torch.bfloat16:
            raw, dtype = t.view(torch.int16).numpy().tobytes(), "BF16"
        else:
            raw = t.numpy().tobytes()
            dtype = {torch.float32: "F32", torch.float16: "F16", torch.int64: "I64"}[t.dtype]
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def load_weights(model_dir):
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        files = sorted(set(json.load(open(index))["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    weights = {}
    for f in files:
        weights.update(read_safetensors(os.path.join(model_dir, f)))
    return weights


def llama3_inv_freq(cfg, head_dim):
    """RoPE inverse frequencies [head_dim/2], float32 as HF builds them: at position p the angle p * inv_freq
    is rounded to float32 by HF too, and at long positions that rounding is part of its result, so the
    reference keeps it (and only it) in float32. The llama3 band rule is written out per frequency."""
    theta = cfg.get("rope_theta", 10000.0)
    rope = cfg.get("rope_scaling") or cfg.get("rope_parameters") or {}
    theta = rope.get("rope_theta", theta)
    exps = torch.arange(0, head_dim, 2, dtype=torch.int64).to(torch.float32) / head_dim
    inv = 1.0 / (torch.tensor(theta, dtype=torch.float32) ** exps)  # float32, as HF
    if rope.get("rope_type", rope.get("type")) != "llama3":
        return inv
    factor, low, high = rope["factor"], rope["low_freq_factor"], rope["high_freq_factor"]
    old = rope["original_max_position_embeddings"]
    out = []
    for f in inv.tolist():
        wavelen = 2 * math.pi / f
        if wavelen < old / high:          # high frequency: kept
            out.append(f)
        elif wavelen > old / low:         # low frequency: divided by the factor
            out.append(f / factor)
        else:                              # in between: interpolated
            s = (old / wavelen - low) / (high - low)
            out.append((1 - s) * f / factor + s * f)
    return torch.tensor(out, dtype=torch.float32)


def load_llama(model_dir, layer):
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    w = {k: v.to(torch.float64) for k, v in load_weights(model_dir).items()}
    n_head = cfg["num_attention_heads"]
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // n_head
    return {"cfg": cfg, "w": w, "layer": layer, "n_head": n_head, "n_kv": cfg.get("num_key_value_heads", n_head),
            "head_dim": head_dim, "inv_freq": llama3_inv_freq(cfg, head_dim)}


def rms_norm(x, weight, eps):
    return weight * (x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps))


def rope(x, cos, sin):
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], -1)
    return x * cos + rotated * sin


def llama_forward(m, ids):
    """The output of decoder layer m['layer'] (HF hidden_states[layer + 1]): [T, d_model] float64."""
    w, cfg, eps = m["w"], m["cfg"], m["cfg"].get("rms_norm_eps", 1e-6)
    T, H, Hkv, hd = len(ids), m["n_head"], m["n_kv"], m["head_dim"]
    x = w["model.embed_tokens.weight"][torch.tensor(ids, dtype=torch.long)]
    angles = (torch.arange(T, dtype=torch.float32)[:, None] * m["inv_freq"][None, :]).to(torch.float64)  # f32, as HF
    cos = torch.cat([angles.cos(), angles.cos()], -1)
    sin = torch.cat([angles.sin(), angles.sin()], -1)
    mask = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
    def lin(x, name):  # x W^T (+ b when the checkpoint has the bias)
        y = x @ w[name + ".weight"].T
        return y + w[name + ".bias"] if name + ".bias" in w else y

    for i in range(m["layer"] + 1):
        p = f"model.layers.{i}."
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = lin(h, p + "self_attn.q_proj").view(T, H, hd).transpose(0, 1)
        k = lin(h, p + "self_attn.k_proj").view(T, Hkv, hd).transpose(0, 1)
        v = lin(h, p + "self_attn.v_proj").view(T, Hkv, hd).transpose(0, 1)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        group = H // Hkv
        out = []
        for head in range(H):  # head h attends with kv head h // group
            scores = q[head] @ k[head // group].T / math.sqrt(hd) + mask
            out.append(torch.softmax(scores, -1) @ v[head // group])
        attn = torch.stack(out, 1).reshape(T, H * hd)
        x = x + lin(attn, p + "self_attn.o_proj")
        g = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = lin(g, p + "mlp.gate_proj")
        x = x + lin(gate * torch.sigmoid(gate) * lin(g, p + "mlp.up_proj"), p + "mlp.down_proj")
    return x


def load_sae(path):
    if path.endswith(".safetensors"):
        sd = read_safetensors(path)
    else:
        sd = torch.load(path, map_location="cpu")
    return {k: v.to(torch.float64) for k, v in sd.items()}


def sae_encode(sae, x):
    """Goodfire: ReLU(x W_enc^T + b_enc): [T, d_sae] float64."""
    return torch.relu(x @ sae["encoder_linear.weight"].T + sae["encoder_linear.bias"])
