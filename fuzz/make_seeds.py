#!/usr/bin/env python3
"""Writes the fuzzers' seed inputs (committed under fuzz/corpus/; run again only to change them).

corpus/tokenizer/: short texts in many scripts, whitespace kinds, contractions, special-token strings,
invalid UTF-8. corpus/tokenizer_json/tiny.json: a small byte-level BPE tokenizer.json (the 256 byte
symbols, a few merges, Llama 3's pre-tokenizer and decoder, two added tokens). corpus/spool/: encode spool
records (src/io/spool.h), written here from the format's description rather than by saediff.
corpus/config/ (not written here): copies of configs/demo.toml and gemini_flash.toml, a broken header,
one file with every TOML value kind the config reader refuses, and the fuzzer's first finds (non-ASCII text where
toml++ 3.3 reaches undefined behaviour, an empty key)."""
import json
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))

TEXTS = [
    b"Hello world", b"I'LL don't 's", "你好，世界 日本語 한국어".encode(), "مرحبا नमस्ते Привет".encode(),
    b"  \t\n\r\n  x", "\u00a0\u180e\u2028\u3000\u0085".encode(), "👩‍💻 👍🏽 🇫🇷 e\u0301".encode(),
    b"<|eot_id|><|begin_of_text|>x<|eot_id|", b"123456789 3.14 1,000", b"```py\ndef f(x):\n    return x\n```",
    b"\xff\xfe bad \xc3\x28 \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82", b"a" * 300,
]


def byte_chars():
    out, shift = [], 0
    for b in range(256):
        printable = 33 <= b <= 126 or 161 <= b <= 172 or 174 <= b <= 255
        out.append(chr(b if printable else 256 + shift))
        shift += 0 if printable else 1
    return out


def tiny_tokenizer():
    chars = byte_chars()
    vocab = {c: i for i, c in enumerate(chars)}
    merges = []
    for a, b in [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("Ġ", "a"), ("e", "r"), ("o", "n"), ("Ġa", "n"),
                 ("Ġan", "d"), ("l", "l"), ("'", "ll")]:
        if a + b not in vocab:
            vocab[a + b] = len(vocab)
        merges.append(f"{a} {b}")
    n = len(vocab)
    pattern = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*"
               "|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
    return {
        "version": "1.0", "truncation": None, "padding": None,
        "added_tokens": [{"id": n + i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                          "normalized": False, "special": True} for i, c in enumerate(["<|eot_id|>", "<|begin_of_text|>"])],
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
                  "vocab": vocab, "merges": merges},
    }


def spool_record(key, ids, pool, features, text_tokens, k):
    """One record: header (b"SDR1", crc32 u32, payload bytes u64, hash u64, 0 u64) + payload of length-prefixed
    arrays (u64 count, then the elements)."""
    def arr(fmt, xs):
        return struct.pack("<Q", len(xs)) + struct.pack(f"<{len(xs)}{fmt}", *xs)
    def string(b):
        return struct.pack("<Q", len(b)) + b
    begin, end = pool
    n_pooled = end - begin
    text, ends = b"", []
    for t in text_tokens:
        text += t
        ends.append(len(text))
    assert len(text_tokens) == n_pooled
    topk_f = [f for _ in range(n_pooled) for f in ([features[0]] + [-1] * (k - 1))] if features else [-1] * (n_pooled * k)
    topk_v = [0.5 if f >= 0 else 0.0 for f in topk_f]
    payload = (string(key) + arr("i", ids) + struct.pack("<ii", begin, end) + arr("i", features)
               + arr("f", [1.0] * len(features)) + arr("f", [2.0] * len(features)) + arr("f", [1.0] * len(features))
               + arr("i", ids[begin:end]) + arr("q", ends) + string(text) + arr("i", topk_f) + arr("f", topk_v))
    return b"SDR1" + struct.pack("<IQQQ", zlib.crc32(payload), len(payload), 0x1234, 0) + payload


def main():
    spool = os.path.join(HERE, "corpus", "spool")
    os.makedirs(spool, exist_ok=True)
    with open(os.path.join(spool, "record"), "wb") as f:
        f.write(spool_record(b"terse\0p1", [128000, 9906, 1917, 128009], (1, 3), [3, 17], [b"Hello", " world".encode()], 2))
    with open(os.path.join(spool, "empty_pool"), "wb") as f:
        f.write(spool_record("verbose\0p-\u00e9".encode(), [128000, 128009], (1, 1), [], [], 4))
    for i, t in enumerate(TEXTS):
        with open(os.path.join(HERE, "corpus", "tokenizer", f"seed{i:02d}"), "wb") as f:
            f.write(t)
    with open(os.path.join(HERE, "corpus", "tokenizer_json", "tiny.json"), "w", encoding="utf-8") as f:
        json.dump(tiny_tokenizer(), f, ensure_ascii=False)


if __name__ == "__main__":
    main()
