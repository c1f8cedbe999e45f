#!/usr/bin/env python3
"""saediff's tokenizer against HF tokenizers' own implementation (tests/reference/hf_tokenize.js, the
Rust library through @anush008/tokenizers), on the real Llama 3.1 tokenizer.json. Zero mismatches allowed.

Checks, each over a corpus built here (seeded, so every run sees the same text):
  encode   `saediff tokenize` ids == HF ids, without a template and with the Llama 3.1 chat template, on:
           hand-picked pieces; every Unicode general category; every kind of whitespace (U+180E, U+0085
           and the others where regex engines disagree); combining marks; letters and digits of Unicode 15-17; emoji ZWJ, skin tones, flags,
           keycaps and tag sequences; CJK, RTL and bidi controls; the digits of every script; long runs;
           contractions in every case; code; every added-token string inside text; random Unicode.
  decode   `saediff tokenize --decode` text == HF decode on random id lists (partial UTF-8 included),
           and the per-token pieces join to it.
  repair   invalid UTF-8 bytes and lone-surrogate escapes in the JSON input become U+FFFD (one warning,
           with the counts): ids == HF ids of the text Python repairs the same way.
  variants the same on a slice of the corpus with tokenizer.json changed: merges as [a, b] pairs; GPT-2's
           ByteLevel pre-tokenizer (use_regex, add_prefix_space); a Sequence of two regex splits; a Split
           with a String pattern and Removed behavior; added tokens marked normalized."""
import copy
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import unicodedata

PIECES = [
    "Hello world", "  leading", "trailing  ", "tabs\tand\ttabs", "line\nbreak", "crlf\r\nline", "\r\n\r\n\n",
    "multiple   spaces", "   ", "\n\n\n", "I'M", "you'LL", "she's", "they'RE", "we've", "I'd", "don't", "'s'S",
    "12345678", "3.14159", "1,000,000", "٣٤٥٦٧", "１２３４", "²³", "Ⅻ", "1st 2nd 3rd",
    "你好，世界", "日本語のテキスト", "한국어 텍스트", "مرحبا بالعالم", "नमस्ते दुनिया", "Привет, мир", "Ελληνικά",
    "שלום", "ไทย", "e\u0301 combining", "a\u0308\u0323", "🙂", "👩‍💻", "👍🏽", "🏳️‍🌈", "🇫🇷", "€100", "¥", "£",
    "\u00a0nbsp", "\u180e", "x\u180ey", "\u0085next", "\u2028sep", "\u2029para", "\u3000ideo", "\u2003em",
    "\u200bzw", "\u202f", "\u205f", "\u1680", "\t\u000b\u000c", "\u001c\u001d\u001e\u001f",
    "<|eot_id|>", "<|begin_of_text|>", "<|start_header_id|>user<|end_header_id|>", "<|eot_id|", "<|reserved_special_token_5|>",
    "```python\ndef f(x):\n    return x ** 2\n```", "## Header\n- bullet\n- **bold**", "a_b-c.d/e\\f", "$$\\int_0^1 x\\,dx$$",
    "http://example.com/path?q=1&r=2", "user@example.com", "!!!???...", "—–-", "«quotes» “curly” ‘single’",
    "ﬁ ligature", "ǅ titlecase", "ſ long s", "İstanbul", "ß", "\ufeffbom", "\U0001d54f math", "a" * 300,
]

CODE = [
    "#include <stdio.h>\nint main(void) {\n\tprintf(\"%d\\n\", 42);\n\treturn 0;\n}\n",
    "def f(xs: list[int]) -> int:\n    return sum(x**2 for x in xs if x % 2 == 0)  # even squares\n",
    "const re = /^(?:[a-z0-9!#$%&'*+/=?^_`{|}~-]+)@example\\.com$/i;\nlet x = a?.b ?? c;\n",
    "SELECT id, COUNT(*) FROM t WHERE x >= 10 AND y <> 'it''s' GROUP BY id;",
    "fn main() { let v: Vec<u8> = vec![0xFF; 16]; println!(\"{:?}\", &v[..4]); }",
    "<div class=\"a\">&nbsp;&lt;tag&gt;</div>\n<!-- comment -->",
    "    indented\n        more\n\t\tmixed \t tabs\n",
    "x<<=2; y>>>=3; z!==w; a&&=b; c||=d; e**=f;",
]

EMOJI = ["👨‍👩‍👧‍👦", "🧑🏿‍🚀", "👍🏻👍🏼👍🏽👍🏾👍🏿", "🇯🇵🇺🇸🇩🇪", "1️⃣#️⃣*️⃣", "🏴󠁧󠁢󠁳󠁣󠁴󠁿", "❤️‍🔥", "🫠🫶", "☺️☺︎", "👁️‍🗨️"]

RTL = ["مرحبا 123 بالعالم!", "שָׁלוֹם עוֹלָם 2024", "\u200fRTL mark\u200e", "\u202eoverride\u202c", "ع\u064eر\u064eب\u0650ي",
       "فارسی ۱۲۳۴", "ܐܪܡܝܐ", "ދިވެހި", "עברית (בסוגריים) English"]

CJK_PARAGRAPH = ("地球和月球之间的平均距离大约是三十八万四千公里但这个数字会随着轨道位置而变化简单来说这个方法是可行的"
                 "東京駅から京都駅までは新幹線で約二時間十五分かかります서울에서부산까지고속열차로약두시간반정도걸립니다")


def code_points_by_category(rng, per_category=40):
    by_cat = {}
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        by_cat.setdefault(unicodedata.category(chr(cp)), []).append(cp)
    out = {}
    for cat, cps in sorted(by_cat.items()):
        out[cat] = rng.sample(cps, min(per_category, len(cps)))
    return out


def contractions():
    out = []
    for suffix in ["s", "t", "re", "ve", "m", "ll", "d"]:
        variants = {""}
        for ch in suffix:
            variants = {v + c for v in variants for c in (ch.lower(), ch.upper())}
        for v in sorted(variants):
            out += [f"it'{v}", f"IT'{v} x", f" '{v}", f"'{v}'{v}", f"x '{v}y", f"1'{v}", f"’{v}"]
    out += ["it'ſ", "'ſt", "'K", "it'\u212a", "don'T", "y'all'd've", "'", "''", "' s", "'\ns"]
    return out


def whitespace_cases():
    ws = [chr(c) for c in range(0x110000) if chr(c).isspace()] + ["\u180e", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"]
    out = []
    for w in ws:
        out += [f"a{w}b", f"{w}{w}x", f"x{w}\n", w, f"x {w}y", f"\n{w}\n", f"{w} ", f"!{w}!", f"1{w}2", f"{w}'s"]
    return out


def by_category_cases(rng):
    out = []
    for cat, cps in code_points_by_category(rng).items():
        for cp in cps:
            c = chr(cp)
            out += [f"x{c}y", f" {c}", c * 3, f"'{c}", f"1{c}2", f"{c} {c}\n"]
    return out


def digits_cases():
    nd = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF and unicodedata.category(chr(c)) == "Nd"]
    out = []
    for i in range(0, len(nd), 7):
        run = "".join(nd[i:i + 7])
        out += [run, f"x{run}y", f" {run[:2]} {run[2:5]}"]
    return out


def long_runs():
    return ["a" * 10000, " " * 5000 + "x", "\n" * 3000, "1" * 1000, "!" * 2000, "😀" * 1000, CJK_PARAGRAPH * 20,
            ("word " * 2000).strip(), "\t" * 500 + "y", "é" * 3000, "\u3000" * 1000, "ab" * 4000]


def combining_cases(rng):
    marks = [chr(c) for c in range(0x300, 0x370)] + ["\u0591", "\u05b0", "\u064b", "\u093c", "\u20d0", "\ufe20"]
    out = []
    for _ in range(300):
        base = rng.choice("aeoxAZ ءअ字1!'")
        out.append(base + "".join(rng.choice(marks) for _ in range(rng.randint(1, 6))) + rng.choice(["", " ", "b"]))
    return out


def added_token_cases(tokenizer_json):
    specials = [t["content"] for t in tokenizer_json["added_tokens"]]
    out = [f"x{s}y" for s in specials]
    out += ["<|<|eot_id|>|>", "<|eot_id|><|eot_id|>", "<|eot_id", "|>", "<||>", " <|eot_id|> ", "\n<|eot_id|>\n",
            "<|reserved_special_token_250|>", "<|reserved_special_token_251|>x"]
    return out


def random_unicode(rng, n=3000):
    ranges = [(0x20, 0x7E), (0xA0, 0x2FF), (0x370, 0x1FFF), (0x2000, 0x2BFF), (0x3000, 0x9FFF), (0xA000, 0xD7FF),
              (0xE000, 0xFFFD), (0x10000, 0x1FFFF), (0x20000, 0x3FFFF), (0xE0000, 0xE01EF), (0xF0000, 0x10FFFF)]
    out = []
    for _ in range(n):
        chars = []
        for _ in range(rng.randint(1, 64)):
            r = rng.random()
            if r < 0.3:
                chars.append(rng.choice(" \n\t'abcXYZ019.,!"))
            else:
                lo, hi = rng.choice(ranges)
                chars.append(chr(rng.randint(lo, hi)))
        out.append("".join(chars))
    return out


def newer_unicode(rng):
    """Letters and digits from Unicode 15-17 (PCRE2 10.42 knows 14.0; HF's Oniguruma 16.0): CJK Ext. H, I
    and J, Egyptian hieroglyphs Ext. A, Kawi, Nag Mundari, Kirat Rai, Garay, Tulu-Tigalari, ..."""
    blocks = [(0x31350, 0x323AF), (0x2EBF0, 0x2EE5D), (0x323B0, 0x3347F), (0x13460, 0x143FF), (0x11F00, 0x11F5A),
              (0x1E4D0, 0x1E4F9), (0x16D40, 0x16D79), (0x10D40, 0x10D8F), (0x11380, 0x113FF), (0x1E5D0, 0x1E5FF),
              (0x16100, 0x16139), (0x1CCF0, 0x1CCF9), (0x10EC2, 0x10EC4), (0x1C89, 0x1C8A), (0xA7CB, 0xA7DC)]
    out = []
    for lo, hi in blocks:
        for _ in range(25):
            c = chr(rng.randint(lo, hi))
            out += [f".{c}c", f"1{c}2", f"a {c}{c}", f"'{c}", f"{c}1234"]
    return out


def random_combinations(rng, n=2000):
    out = []
    for _ in range(n):
        s = "".join(rng.choice(PIECES) + rng.choice(["", " ", "  ", "\n", "", ""]) for _ in range(rng.randint(1, 6)))
        out.append(s)
    return out


def corpus(tokenizer_json):
    rng = random.Random(1234)
    sections = {
        "pieces": PIECES, "categories": by_category_cases(rng), "whitespace": whitespace_cases(),
        "combining": combining_cases(rng), "emoji": EMOJI, "rtl": RTL, "cjk": [CJK_PARAGRAPH],
        "digits": digits_cases(), "long": long_runs(), "contractions": contractions(), "code": CODE,
        "added_tokens": added_token_cases(tokenizer_json), "random_unicode": random_unicode(rng), "newer_unicode": newer_unicode(rng),
        "combinations": random_combinations(rng),
    }
    return sections


PREFIX = ("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
          "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
          "<|start_header_id|>assistant<|end_header_id|>\n\n")

ENV = dict(os.environ)
SAEDIFF = ENV["SAEDIFF"]
REF = os.path.join(ENV["SAEDIFF_SOURCE_DIR"], "tests", "reference", "hf_tokenize.js")


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, env=ENV)


def write_jsonl(path, key, items):
    with open(path, "w", encoding="utf-8") as f:
        for t in items:
            f.write(json.dumps({key: t}, ensure_ascii=False) + "\n")


def read_jsonl(path, key):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line)[key] for line in f]


class Checker:
    def __init__(self, tmp):
        self.tmp = tmp
        self.passed = self.failed = 0

    def report(self, name, texts, ours, theirs, show=5):
        assert len(ours) == len(theirs) == len(texts), (name, len(ours), len(theirs), len(texts))
        bad = [i for i in range(len(texts)) if ours[i] != theirs[i]]
        for i in bad[:show]:
            print(f"FAIL [{name}] item {i}: {texts[i]!r:.200}\n  ours {ours[i]!r:.300}\n  HF   {theirs[i]!r:.300}")
        print(f"[{name}] {len(texts)} items: {len(bad)} mismatches")
        self.passed += len(texts) - len(bad)
        self.failed += len(bad)

    def encode(self, name, tokenizer, texts, template="none"):
        ours_in, ref_in = os.path.join(self.tmp, "in.jsonl"), os.path.join(self.tmp, "ref_in.jsonl")
        ours_out, ref_out = os.path.join(self.tmp, "ours.jsonl"), os.path.join(self.tmp, "ref.jsonl")
        write_jsonl(ours_in, "text", texts)
        write_jsonl(ref_in, "text", [PREFIX + t.strip() + "<|eot_id|>" for t in texts] if template == "llama3" else texts)
        run([SAEDIFF, "tokenize", "--tokenizer", tokenizer, "--input", ours_in, "--output", ours_out,
             "--chat-template", template])
        run(["node", REF, tokenizer, ref_in, ref_out])
        self.report(name, texts, read_jsonl(ours_out, "ids"), read_jsonl(ref_out, "ids"))


def check_decode(c, tokenizer, n_vocab):
    rng = random.Random(99)
    lists = [[rng.randrange(n_vocab) for _ in range(rng.randint(1, 30))] for _ in range(3000)]
    # Byte tokens alone and in pairs: partial UTF-8 sequences that only HF's lossy decode settles.
    lists += [[rng.randrange(256) for _ in range(rng.randint(1, 8))] for _ in range(2000)]
    inp, ours_out, ref_out = (os.path.join(c.tmp, n) for n in ("ids.jsonl", "dec_ours.jsonl", "dec_ref.jsonl"))
    write_jsonl(inp, "ids", lists)
    run([SAEDIFF, "tokenize", "--decode", "--tokenizer", tokenizer, "--input", inp, "--output", ours_out])
    run(["node", REF, tokenizer, inp, ref_out, "decode"])
    with open(ours_out, encoding="utf-8") as f:
        ours = [json.loads(line) for line in f]
    c.report("decode", lists, [o["text"] for o in ours], read_jsonl(ref_out, "text"))
    c.report("decode pieces join", lists, ["".join(o["pieces"]) for o in ours], [o["text"] for o in ours])


def check_repair(c, tokenizer):
    """Invalid UTF-8 and lone surrogates reach saediff through JSON; Python repairs them the same way."""
    rng = random.Random(7)
    raw_lines, expected = [], []
    bad_bytes = [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82", b"\x80\x80", b"\xf0\x9f\x98",
                 b"\xc0\xaf", b"\xe0\x80\xaf", b"\xfe\xfe\xff"]
    n_bytes = n_surrogates = 0
    for i in range(300):
        base = rng.choice(PIECES).encode()
        cut = rng.randint(0, len(base))
        if i % 2 == 0:
            bad = rng.choice(bad_bytes)
            raw = b'{"text": "' + json.dumps(base[:cut].decode("utf-8", "replace"), ensure_ascii=False)[1:-1].encode() \
                + bad + json.dumps(base[cut:].decode("utf-8", "replace"), ensure_ascii=False)[1:-1].encode() + b'"}'
            text = json.loads(raw.decode("utf-8", "replace"))["text"]
            n_bytes += bad.decode("utf-8", "replace").count("\ufffd")
        else:
            sur = rng.choice(["\\ud800", "\\udfff", "\\ud83d x", "\\ude00\\ud83d"])
            raw = ('{"text": "' + json.dumps("abc", ensure_ascii=True)[1:-1] + sur + ' tail"}').encode()
            text = re.sub("[\ud800-\udfff]", "\ufffd", json.loads(raw.decode())["text"])
            n_surrogates += len(re.findall(r"\\u d[89ab]|\\ud[89ab]|\\ud[c-f]", sur))
        raw_lines.append(raw)
        expected.append(text)
    inp, ours_out = os.path.join(c.tmp, "bad.jsonl"), os.path.join(c.tmp, "bad_ours.jsonl")
    with open(inp, "wb") as f:
        f.write(b"\n".join(raw_lines) + b"\n")
    r = run([SAEDIFF, "tokenize", "--tokenizer", tokenizer, "--input", inp, "--output", ours_out])
    warnings = [l for l in r.stderr.splitlines() if "replaced by U+FFFD" in l]
    want = f"{n_bytes} invalid UTF-8 sequences and {n_surrogates} lone UTF-16 surrogate escapes replaced by U+FFFD"
    ok = len(warnings) == 1 and want in warnings[0]
    print(f"[repair warning] {'ok' if ok else 'FAIL'}: {warnings} (expected one line with '{want}')")
    c.passed += ok
    c.failed += not ok
    ref_in, ref_out = os.path.join(c.tmp, "bad_ref_in.jsonl"), os.path.join(c.tmp, "bad_ref.jsonl")
    write_jsonl(ref_in, "text", expected)
    run(["node", REF, tokenizer, ref_in, ref_out])
    c.report("repair", expected, read_jsonl(ours_out, "ids"), read_jsonl(ref_out, "ids"))


def variants(base):
    out = {}
    v = copy.deepcopy(base)
    v["model"]["merges"] = [m.split(" ", 1) if isinstance(m, str) else m for m in v["model"]["merges"]]
    out["merges as pairs"] = v
    v = copy.deepcopy(base)
    v["pre_tokenizer"] = {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True}
    out["GPT-2 ByteLevel"] = v
    v = copy.deepcopy(base)
    v["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "\\p{N}"}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]}
    out["two regex splits"] = v
    v = copy.deepcopy(base)
    v["pre_tokenizer"]["pretokenizers"].insert(
        0, {"type": "Split", "pattern": {"String": "--"}, "behavior": "Removed", "invert": False})
    out["String split, Removed"] = v
    v = copy.deepcopy(base)
    for t in v["added_tokens"]:
        t["normalized"] = t["id"] % 2 == 1
    v["added_tokens"].append({"id": 128256, "content": "the answer", "single_word": False, "lstrip": False,
                              "rstrip": False, "normalized": True, "special": False})
    v["added_tokens"].append({"id": 128257, "content": "answer<|eot_id|>", "single_word": False, "lstrip": False,
                              "rstrip": False, "normalized": True, "special": False})
    out["normalized added tokens"] = v
    return out


def main():
    tokenizer = ENV["SAEDIFF_TOKENIZER_JSON"]
    with open(tokenizer, encoding="utf-8") as f:
        tj = json.load(f)
    sections = corpus(tj)
    all_texts = [t for items in sections.values() for t in items]
    with tempfile.TemporaryDirectory() as tmp:
        c = Checker(tmp)
        for name, items in sections.items():
            c.encode(name, tokenizer, items)
        c.encode("all, llama3 template", tokenizer, all_texts, "llama3")
        check_decode(c, tokenizer, 128256)
        check_repair(c, tokenizer)
        rng = random.Random(5)
        sample = rng.sample(all_texts, 1500) + PIECES + contractions() + CODE + [
            "the answer<|eot_id|> is 42 -- or --- not", "answer<|eot_id|>", "12--34 the answer"]
        for name, v in variants(tj).items():
            path = os.path.join(tmp, "variant.json")
            with open(path, "w", encoding="utf-8") as f:
                json.dump(v, f, ensure_ascii=False)
            c.encode(f"variant: {name}", path, sample)
    print(f"{c.passed} passed, {c.failed} failed")
    sys.exit(1 if c.failed else 0)


if __name__ == "__main__":
    main()
