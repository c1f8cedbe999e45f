#!/usr/bin/env python3
"""saediff's tokenizer against HF tokenizers' own implementation on a Unicode stress corpus.

Both tokenize the same lines with the real Llama 3.1 tokenizer.json: `saediff tokenize` and
tests/reference/hf_tokenize.js (@anush008/tokenizers). Ids must be identical on every line, without a
template and with the Llama 3.1 chat template (rendered here as the reference renders it)."""
import json
import os
import random
import subprocess
import sys
import tempfile

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


def corpus(seed=1234, n_random=2000):
    rng = random.Random(seed)
    lines = list(PIECES)
    for _ in range(n_random):
        k = rng.randint(1, 6)
        s = "".join(rng.choice(PIECES) + rng.choice(["", " ", "  ", "\n", "", ""]) for _ in range(k))
        if rng.random() < 0.3:  # random code points from the BMP and beyond, surrogates excluded
            cps = [rng.choice([rng.randint(0x20, 0x7e), rng.randint(0xa0, 0x2fff), rng.randint(0x3000, 0xd7ff),
                               rng.randint(0xe000, 0xfffd), rng.randint(0x10000, 0x1faff)]) for _ in range(rng.randint(1, 12))]
            pos = rng.randint(0, len(s))
            s = s[:pos] + "".join(map(chr, cps)) + s[pos:]
        lines.append(s)
    return lines


PREFIX = ("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
          "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
          "<|start_header_id|>assistant<|end_header_id|>\n\n")


def run(cmd):
    subprocess.run(cmd, check=True)


def read_ids(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line)["ids"] for line in f]


def main():
    saediff = os.environ["SAEDIFF"]
    tokenizer = os.environ["SAEDIFF_TOKENIZER_JSON"]
    ref = os.path.join(os.environ["SAEDIFF_SOURCE_DIR"], "tests", "reference", "hf_tokenize.js")
    texts = corpus()
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        def write(name, items):
            p = os.path.join(tmp, name)
            with open(p, "w", encoding="utf-8") as f:
                for t in items:
                    f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
            return p
        plain = write("plain.jsonl", texts)
        rendered = write("rendered.jsonl", [PREFIX + t.strip() + "<|eot_id|>" for t in texts])
        for mode, ours_in, ref_in in (("none", plain, plain), ("llama3", plain, rendered)):
            ours_out, ref_out = os.path.join(tmp, f"ours-{mode}.jsonl"), os.path.join(tmp, f"ref-{mode}.jsonl")
            run([saediff, "tokenize", "--tokenizer", tokenizer, "--input", ours_in, "--output", ours_out,
                 "--chat-template", mode])
            run(["node", ref, tokenizer, ref_in, ref_out])
            ours, theirs = read_ids(ours_out), read_ids(ref_out)
            assert len(ours) == len(theirs) == len(texts)
            bad = [i for i in range(len(texts)) if ours[i] != theirs[i]]
            for i in bad[:10]:
                print(f"FAIL [{mode}] line {i}: {texts[i]!r}\n  ours {ours[i]}\n  HF   {theirs[i]}")
            print(f"[{mode}] {len(texts)} lines, {sum(map(len, theirs))} tokens: {len(bad)} mismatches")
            failures += len(bad)
    print(f"{2 * len(texts) - failures} passed, {failures} failed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
