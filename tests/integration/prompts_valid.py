#!/usr/bin/env python3
"""Validates the strategic prompt set for the Gemini study (configs/prompts/gemini_flash.csv).

usage: prompts_valid.py [CSV]   (default: configs/prompts/gemini_flash.csv under the repository root)

Checks that the file parses as CSV with the header id,category,prompt,rationale; that it has 200-300 rows with no
empty field; that ids are unique and well-formed; that the categories are broad and well populated (including the
13 required ones); that no two prompts are duplicates or near-duplicates (Jaccard similarity of word 3-gram
shingles above 0.6); and that the multilingual category really spans several scripts and languages.
Prints one line per check, then "N passed, M failed"; exits 1 if any check failed. Standard library only.
"""
import collections
import csv
import itertools
import os
import re
import sys

HEADER = ["id", "category", "prompt", "rationale"]
MIN_ROWS, MAX_ROWS = 200, 300
MIN_CATEGORIES, MIN_PER_CATEGORY = 12, 10
REQUIRED_CATEGORIES = [
    "uncertainty_hedging", "formatting_structure", "verbosity", "reasoning_math", "refusal_borderline",
    "sycophancy", "instruction_constraints", "creative_writing", "factual_recall_cutoff", "code", "advice",
    "multilingual", "self_knowledge_persona",
]
ID_RE = re.compile(r"^[a-z]+_[0-9]{2,3}$")
NEAR_DUP_JACCARD = 0.6
MIN_LANGUAGES, MIN_NON_LATIN_SCRIPTS = 6, 4

# Non-Latin scripts, by Unicode code point ranges.
SCRIPTS = {
    "CJK": [(0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x2FA1F)],
    "Kana": [(0x3040, 0x309F), (0x30A0, 0x30FF), (0x31F0, 0x31FF), (0xFF66, 0xFF9F)],
    "Hangul": [(0x1100, 0x11FF), (0x3130, 0x318F), (0xAC00, 0xD7AF)],
    "Arabic": [(0x0600, 0x06FF), (0x0750, 0x077F), (0x08A0, 0x08FF), (0xFB50, 0xFDFF), (0xFE70, 0xFEFF)],
    "Devanagari": [(0x0900, 0x097F), (0xA8E0, 0xA8FF)],
    "Cyrillic": [(0x0400, 0x04FF), (0x0500, 0x052F)],
    "Greek": [(0x0370, 0x03FF), (0x1F00, 0x1FFF)],
    "Hebrew": [(0x0590, 0x05FF)],
    "Thai": [(0x0E00, 0x0E7F)],
}
# Latin-script languages, recognised by a few frequent function words (two distinct hits needed).
LATIN_MARKERS = {
    "French": {"le", "la", "les", "est", "pourquoi", "une", "des", "et", "que", "qui", "été", "du", "pour"},
    "Spanish": {"el", "los", "las", "es", "son", "cuáles", "qué", "por", "una", "un", "de", "aprender", "idioma"},
    "German": {"der", "die", "das", "und", "ist", "mir", "kannst", "du", "zwischen", "nicht", "ich", "ein"},
    "Portuguese": {"são", "quais", "os", "as", "do", "da", "na", "não", "uma", "principais", "causas"},
    "Italian": {"qual", "è", "il", "tra", "un", "una", "della", "che", "caffè", "differenza"},
    "Swahili": {"tafadhali", "jinsi", "ya", "kwa", "na", "nieleze", "kupika", "ni", "wa"},
    "Turkish": {"için", "bir", "ne", "ve", "bu", "önerirsin", "geçirecek", "üç", "gün"},
    "Vietnamese": {"là", "gì", "hãy", "giải", "thích", "ngắn", "gọn", "và", "của", "không"},
}

results = []


def check(name, ok, detail=""):
    results.append(bool(ok))
    print(f"{'PASS' if ok else 'FAIL'} {name}" + (f": {detail}" if detail else ""))


def normalise(text):
    return " ".join(text.lower().split())


def shingles(text):
    words = re.findall(r"\w+", text.lower())
    if len(words) < 3:
        return frozenset(words)
    return frozenset(tuple(words[i:i + 3]) for i in range(len(words) - 2))


def jaccard(a, b):
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def scripts_of(text):
    found = set()
    for ch in text:
        cp = ord(ch)
        for name, ranges in SCRIPTS.items():
            if any(lo <= cp <= hi for lo, hi in ranges):
                found.add(name)
    return found


def language_of(text):
    """A label for the prompt's script or (for Latin script) language, or None for English/unknown."""
    found = scripts_of(text)
    if "Kana" in found:
        return "Japanese"
    if "Hangul" in found:
        return "Korean"
    for name in ("CJK", "Arabic", "Devanagari", "Cyrillic", "Greek", "Hebrew", "Thai"):
        if name in found:
            return name
    words = set(re.findall(r"\w+", text.lower()))
    best, best_hits = None, 1
    for lang, markers in LATIN_MARKERS.items():
        hits = len(words & markers)
        if hits > best_hits:
            best, best_hits = lang, hits
    return best


def main(path):
    if not os.path.isfile(path):
        print(f"FAIL file exists: prompt file '{path}' not found")
        print("0 passed, 1 failed")
        return 1
    check("file exists", True, path)

    try:
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f, strict=True))
    except (csv.Error, UnicodeDecodeError) as e:
        check("parses as UTF-8 CSV", False, str(e))
        return finish()
    check("parses as UTF-8 CSV", True, f"{len(rows)} records")
    if not rows:
        check("header", False, "the file is empty")
        return finish()

    header = rows[0]
    if header and header[0].startswith("\ufeff"):
        header = [header[0][1:]] + header[1:]
    ok = header[:len(HEADER)] == HEADER
    check("header", ok, ",".join(header) if ok else f"got {header!r}, want it to start with {HEADER!r}")
    data = [r for r in rows[1:] if r != [] and r != [""]]
    check("row count", MIN_ROWS <= len(data) <= MAX_ROWS, f"{len(data)} rows (want {MIN_ROWS}-{MAX_ROWS})")

    bad_width = [i + 2 for i, r in enumerate(data) if len(r) != len(header)]
    check("field count", not bad_width, f"records with a field count unlike the header: {bad_width[:10]}" if bad_width else "")
    empty = [i + 2 for i, r in enumerate(data) if any(not field.strip() for field in r) or len(r) < len(HEADER)]
    check("no empty fields", not empty, f"records with an empty field: {empty[:10]}" if empty else "")

    data = [r for r in data if len(r) >= len(HEADER)]
    ids = [r[0] for r in data]
    dup_ids = sorted(k for k, v in collections.Counter(ids).items() if v > 1)
    check("ids unique", not dup_ids, f"duplicated: {dup_ids[:10]}" if dup_ids else f"{len(ids)} ids")
    bad_ids = [i for i in ids if not ID_RE.match(i)]
    check("id format", not bad_ids, f"not matching {ID_RE.pattern}: {bad_ids[:10]}" if bad_ids else "")

    per_cat = collections.Counter(r[1] for r in data)
    big = {c: n for c, n in per_cat.items() if n >= MIN_PER_CATEGORY}
    check("categories", len(big) >= MIN_CATEGORIES,
          f"{len(big)} categories with >= {MIN_PER_CATEGORY} prompts (want >= {MIN_CATEGORIES}): "
          + ", ".join(f"{c}={n}" for c, n in sorted(per_cat.items())))
    small = {c: n for c, n in per_cat.items() if n < MIN_PER_CATEGORY}
    check("category sizes", not small, f"categories with fewer than {MIN_PER_CATEGORY} prompts: {small}" if small else "")
    missing = [c for c in REQUIRED_CATEGORIES if c not in per_cat]
    check("required categories", not missing, f"missing: {missing}" if missing else f"all {len(REQUIRED_CATEGORIES)} present")

    prompts = [(r[0], r[2]) for r in data]
    seen, exact = {}, []
    for pid, text in prompts:
        key = normalise(text)
        if key in seen:
            exact.append((seen[key], pid))
        else:
            seen[key] = pid
    check("no duplicate prompts", not exact, f"identical prompts: {exact[:10]}" if exact else "")

    sh = [(pid, shingles(text)) for pid, text in prompts]
    near = []
    for (pa, a), (pb, b) in itertools.combinations(sh, 2):
        j = jaccard(a, b)
        if j > NEAR_DUP_JACCARD:
            near.append((pa, pb, round(j, 2)))
    check("no near-duplicate prompts", not near,
          f"pairs with 3-gram Jaccard > {NEAR_DUP_JACCARD}: {near[:10]}" if near else
          f"max 3-gram Jaccard {max((jaccard(a, b) for (_, a), (_, b) in itertools.combinations(sh, 2)), default=0):.2f}")

    multi = [r[2] for r in data if r[1] == "multilingual"]
    langs, non_latin = set(), set()
    for text in multi:
        lang = language_of(text)
        if lang:
            langs.add(lang)
        non_latin |= scripts_of(text)
    check("multilingual languages", len(langs) >= MIN_LANGUAGES,
          f"{len(langs)} scripts/languages detected (want >= {MIN_LANGUAGES}): {sorted(langs)}")
    check("multilingual non-Latin scripts", len(non_latin) >= MIN_NON_LATIN_SCRIPTS,
          f"{len(non_latin)} non-Latin scripts (want >= {MIN_NON_LATIN_SCRIPTS}): {sorted(non_latin)}")
    return finish()


def finish():
    passed = sum(results)
    failed = len(results) - passed
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    default = os.path.join(root, "configs", "prompts", "gemini_flash.csv")
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else default))
