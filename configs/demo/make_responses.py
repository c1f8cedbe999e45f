#!/usr/bin/env python3
"""Writes the offline demo's SYNTHETIC data: prompts.csv and responses.jsonl.

Nothing here is real model output. Two made-up "models" answer the same prompts:
  terse   (synthetic/terse-v1):   short, direct, confident; no lists, no hedging.
  verbose (synthetic/verbose-v2): long-winded; hedges, markdown headers, bulleted lists, caveats, a summary.
The verbose answer is built from the same key points as the terse one, so the sets differ in style, which is
what the diff should surface. Run it again to regenerate both files byte for byte."""
import csv
import io
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))

# (id, category, prompt, terse answer, key points for the verbose answer, rationale)
PROMPTS = [
    ("p01", "factual", "What is the capital of Australia?", "Canberra.",
     ["Canberra is the capital", "Sydney is the largest city, which is a common source of confusion",
      "Canberra was purpose-built as a compromise between Sydney and Melbourne"], "simple fact"),
    ("p02", "factual", "How many bones are in the adult human body?", "206.",
     ["Most adults have 206 bones", "Newborns have around 270, many of which fuse",
      "The exact count varies slightly between people"], "simple fact with variation"),
    ("p03", "factual", "Who wrote 'Pride and Prejudice'?", "Jane Austen, in 1813.",
     ["Jane Austen wrote it", "It was published in 1813", "It was initially published anonymously"], "attribution"),
    ("p04", "factual", "What is the boiling point of water at sea level?", "100 °C, or 212 °F.",
     ["About 100 °C (212 °F) at standard pressure", "It drops at altitude",
      "Dissolved salts raise it slightly"], "units and symbols"),
    ("p05", "factual", "Why is the sky blue?",
     "Air molecules scatter short blue wavelengths of sunlight far more than red ones (Rayleigh scattering).",
     ["Rayleigh scattering favours short wavelengths", "Our eyes are more sensitive to blue than violet",
      "At sunset light travels through more air, so reds dominate"], "explanation"),
    ("p06", "factual", "When did the Berlin Wall fall?", "On 9 November 1989.",
     ["The border opened on 9 November 1989", "Demolition continued into 1990",
      "German reunification followed in October 1990"], "date"),
    ("p07", "reasoning", "If a train travels 180 km in 2 hours, what is its average speed?", "90 km/h.",
     ["Average speed is distance divided by time", "180 km ÷ 2 h = 90 km/h",
      "This assumes the figures are exact and ignores stops"], "arithmetic"),
    ("p08", "reasoning", "What is 17 × 24?", "408.",
     ["17 × 24 = 17 × 20 + 17 × 4", "That is 340 + 68", "So the product is 408"], "arithmetic"),
    ("p09", "reasoning", "Is 221 a prime number?", "No: 221 = 13 × 17.",
     ["A prime has no divisors other than 1 and itself", "221 = 13 × 17",
      "So 221 is composite"], "number theory"),
    ("p10", "reasoning", "Solve for x: 3x + 7 = 22.", "x = 5.",
     ["Subtract 7 from both sides: 3x = 15", "Divide by 3: x = 5", "Check: 3·5 + 7 = 22 ✓"], "algebra"),
    ("p11", "reasoning",
     "A bat and a ball cost $1.10 together. The bat costs $1.00 more than the ball. How much is the ball?",
     "5 cents.",
     ["Let the ball cost b, so the bat costs b + 1.00", "2b + 1.00 = 1.10, so b = 0.05",
      "The intuitive answer of 10 cents is wrong"], "trick question"),
    ("p12", "reasoning", "What is the derivative of x² · sin(x)?", "2x·sin(x) + x²·cos(x).",
     ["Use the product rule: (uv)′ = u′v + uv′", "u = x², u′ = 2x; v = sin x, v′ = cos x",
      "Result: 2x·sin x + x²·cos x"], "calculus, unicode math"),
    ("p13", "coding", "How do I reverse a list in Python?",
     "Use `lst.reverse()` in place, or `lst[::-1]` for a reversed copy.",
     ["`lst.reverse()` reverses in place and returns None", "`lst[::-1]` makes a reversed copy",
      "`reversed(lst)` gives an iterator"], "code, inline"),
    ("p14", "coding", "Write a function that checks whether a string is a palindrome.",
     "```python\ndef is_palindrome(s: str) -> bool:\n    return s == s[::-1]\n```",
     ["Compare the string with its reverse", "You may want to normalise case and strip punctuation first",
      "For very long strings a two-pointer loop avoids the copy"], "code block"),
    ("p15", "coding", "What does `git rebase` do?",
     "It replays your commits on top of another base commit, rewriting their history.",
     ["It moves a branch onto a new base", "It rewrites commit hashes",
      "Avoid rebasing commits others have already pulled"], "tooling"),
    ("p16", "coding", "How do I read a file line by line in C++?",
     "```cpp\nstd::ifstream in(\"file.txt\");\nfor (std::string line; std::getline(in, line);) {\n  // use line\n}\n```",
     ["Open the file with std::ifstream", "Loop with std::getline", "Check that the stream opened"], "code block"),
    ("p17", "coding", "What's the difference between a process and a thread?",
     "A process has its own memory space; threads share the memory of the process they belong to.",
     ["Processes are isolated address spaces", "Threads within a process share memory",
      "Threads are cheaper to create but need synchronisation"], "concepts"),
    ("p18", "coding", "Explain big-O notation in one sentence.",
     "Big-O describes how an algorithm's cost grows with input size, ignoring constant factors.",
     ["It gives an upper bound on growth", "Constants and lower-order terms are dropped",
      "O(n log n) sorting is a classic example"], "concepts"),
    ("p19", "advice", "How can I sleep better?",
     "Keep a fixed schedule, cut caffeine after noon, and keep your bedroom dark and cool.",
     ["Keep a consistent sleep schedule", "Limit caffeine and screens in the evening",
      "Keep the bedroom dark, quiet and cool"], "health advice"),
    ("p20", "advice", "Should I learn Python or JavaScript first?",
     "Python: its syntax is simpler, so you learn programming rather than quirks.",
     ["Python has a gentle syntax", "JavaScript is essential for the web",
      "Your goals matter more than the first language"], "opinionated advice"),
    ("p21", "advice", "How do I prepare for a job interview?",
     "Research the company, practise answers to common questions aloud, and prepare two questions to ask.",
     ["Research the company and role", "Practise common questions out loud",
      "Prepare your own questions for the interviewer"], "career advice"),
    ("p22", "advice", "What's a good way to start saving money?",
     "Automate a fixed transfer to savings on payday, before you can spend it.",
     ["Pay yourself first with an automatic transfer", "Track spending for a month",
      "Build an emergency fund before investing"], "finance advice"),
    ("p23", "advice", "How do I get better at public speaking?",
     "Speak often, record yourself, and rehearse the opening until it is automatic.",
     ["Practise in low-stakes settings", "Record and review yourself",
      "Memorise the opening to get past the nerves"], "skills advice"),
    ("p24", "advice", "How often should I water a cactus?",
     "Every two to three weeks in summer, about once a month in winter; let the soil dry out fully.",
     ["Let the soil dry out completely between waterings", "Water less in winter dormancy",
      "Overwatering is the most common cause of death"], "practical advice"),
    ("p25", "creative", "Write a haiku about autumn.",
     "Red leaves let go now —\nthe wind keeps none of its names,\nonly the cold stays.",
     ["Haiku follow a 5-7-5 pattern", "Autumn imagery: falling leaves, wind, cold",
      "A turn in the last line adds weight"], "poetry"),
    ("p26", "creative", "Give me a name for a coffee shop.", "Grounds for Optimism.",
     ["Puns on coffee terms work well", "Keep it short and memorable", "Check the name is not taken locally"],
     "naming"),
    ("p27", "creative", "Write a one-sentence horror story.",
     "The baby monitor crackled with a voice soothing my son, and I live alone.",
     ["Horror in one sentence relies on a twist", "The last words carry the shock",
      "Domestic settings feel closer to home"], "micro fiction"),
    ("p28", "creative", "Describe the ocean to someone who has never seen it.",
     "Imagine a sky lying on the ground: endless, moving, loud, and tasting of salt.",
     ["Appeal to sound, smell and taste, not only sight", "Use scale comparisons",
      "Mention its constant motion"], "description"),
    ("p29", "creative", "Invent a new holiday and its tradition.",
     "Quiet Day, 21 March: everyone goes without their phone from sunrise to sunset.",
     ["Give it a date and a reason", "Describe one central ritual", "Add food or music to make it stick"],
     "invention"),
    ("p30", "safety", "What is the maximum daily dose of paracetamol for an adult?",
     "4 grams a day, taken as at most 1 gram every 4 to 6 hours.",
     ["The usual adult maximum is 4 g per day", "Lower limits apply with liver disease or heavy drinking",
      "Many combination products also contain paracetamol"], "dosage, sensitive"),
    ("p31", "safety", "Can I mix bleach and ammonia for cleaning?",
     "No. The mixture releases toxic chloramine gas.",
     ["Bleach and ammonia produce chloramine vapours", "Exposure can damage the lungs",
      "Ventilate and leave the area if it happens"], "chemical safety"),
    ("p32", "safety", "How much ibuprofen can I take for a headache?",
     "200–400 mg every 4 to 6 hours, no more than 1,200 mg a day without a doctor's advice.",
     ["Typical dose is 200–400 mg", "Over-the-counter maximum is 1,200 mg a day",
      "Avoid it with stomach ulcers or kidney problems"], "dosage, sensitive"),
    ("p33", "safety", "Is it safe to eat raw cookie dough?",
     "Not entirely: raw flour and raw eggs can carry E. coli and Salmonella.",
     ["Raw eggs can carry Salmonella", "Raw flour can carry E. coli",
      "Heat-treated flour and egg-free dough are safer"], "food safety"),
    ("p34", "safety", "How do I treat a minor burn?",
     "Cool it under running water for 20 minutes, then cover it loosely with a clean dressing.",
     ["Cool running water for about 20 minutes", "No ice, butter or toothpaste",
      "See a doctor for large, deep or facial burns"], "first aid"),
    ("p35", "opinion", "Is remote work better than working in an office?",
     "For focused individual work, yes; for onboarding and mentoring, the office still wins.",
     ["Remote work removes commuting", "Offices help spontaneous collaboration",
      "Hybrid arrangements try to get both"], "opinion"),
    ("p36", "opinion", "What is the best programming language?",
     "There isn't one; pick the one your problem and team already use.",
     ["It depends on the domain", "Ecosystem and team skills matter most",
      "Performance needs may narrow the choice"], "opinion"),
    ("p37", "opinion", "Are electric cars really better for the environment?",
     "Yes, over their lifetime, even counting battery production, on almost every grid.",
     ["Lifecycle emissions are usually lower", "The advantage grows as grids decarbonise",
      "Battery production front-loads emissions"], "contested topic"),
    ("p38", "opinion", "Should everyone learn to code?",
     "No, but everyone benefits from understanding what code can and cannot do.",
     ["Coding literacy helps in many jobs", "Not everyone needs to write software",
      "Computational thinking is the transferable part"], "opinion"),
    ("p39", "multilingual", "Quelle est la capitale du Canada ?", "Ottawa.",
     ["La capitale est Ottawa", "Toronto est la plus grande ville",
      "Ottawa a été choisie en 1857 par la reine Victoria"], "French"),
    ("p40", "multilingual", "¿Cuántos continentes hay?", "Siete, según el modelo más común.",
     ["El modelo más común cuenta siete", "Algunos países enseñan seis o cinco",
      "Depende de si América y Eurasia se cuentan juntas"], "Spanish"),
    ("p41", "multilingual", "中国最长的河流是哪条？", "长江，约6300公里。",
     ["长江是中国最长的河流", "全长约6300公里", "黄河是第二长的河流"], "Chinese"),
    ("p42", "multilingual", "日本の首都はどこですか？", "東京です。🗼",
     ["日本の首都は東京です", "東京は世界最大級の都市圏です", "1868年に京都から移りました"], "Japanese, emoji"),
    ("p43", "multilingual", "ما هي عاصمة مصر؟", "القاهرة.",
     ["عاصمة مصر هي القاهرة", "هي أكبر مدينة في العالم العربي", "تقع على نهر النيل"], "Arabic"),
    ("p44", "multilingual", "Translate 'good morning' into German, Italian and Portuguese.",
     "Guten Morgen; buongiorno; bom dia. ☀️",
     ["German: Guten Morgen", "Italian: buongiorno", "Portuguese: bom dia"], "translation, emoji"),
    ("p45", "formatting", "Print the special token text <|eot_id|> back to me.",
     "Here it is: <|eot_id|> — a Llama 3 end-of-turn marker.",
     ["The string <|eot_id|> marks the end of a turn in Llama 3", "Tokenizers read it as one special token",
      "Escaping it avoids confusing the model"], "special token inside text"),
]

HEDGES = ["It's worth noting that", "Generally speaking,", "I could be wrong, but", "It depends, but",
          "In many cases,", "To be fair,"]
CAVEATS = ["that said, individual circumstances vary", "although there are exceptions",
           "but please double-check with an authoritative source", "though experts sometimes disagree"]


def verbose_answer(i, prompt, points, category):
    hedge = HEDGES[i % len(HEDGES)]
    lines = [f"## Short answer", "", f"Great question! {hedge} the answer has a few layers, so let me break it down.", ""]
    lines += ["## Key points", ""]
    for k, p in enumerate(points):
        caveat = CAVEATS[(i + k) % len(CAVEATS)]
        bullet = f"{k + 1}." if i % 2 else "-"
        lines.append(f"{bullet} **{p}** — {caveat}.")
    lines += ["", "## Things to keep in mind", "",
              "- This is a general overview, not a complete treatment.",
              "- Context matters, and the details may change over time."]
    if category == "safety":
        lines += ["- **I am not a doctor or a safety professional.** Please consult a qualified professional "
                  "before acting on this, and read the product label."]
    lines += ["", "## Summary", "",
              f"In short, {points[0][0].lower() + points[0][1:]}. I hope this helps — let me know if you would "
              "like me to go into more detail on any of these points!"]
    text = "\n".join(lines)
    if i % 9 == 4:
        text = text.replace("\n", "\r\n")  # CRLF line ends
    if i % 7 == 3:
        text = "\n\n  " + text + "  \n"     # surrounding whitespace, trimmed by the chat template
    return text


def usage(prompt, text):
    p, c = max(1, round(len(prompt.split()) * 1.3)), max(1, round(len(text.split()) * 1.3))
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def record(pid, cat, prompt, set_name, model, response, error, attempts, minute, finish="stop"):
    return {"prompt_id": pid, "category": cat, "prompt": prompt, "set": set_name, "model": model,
            "response": response, "error": error, "finish_reason": finish if response is not None else None,
            "usage": usage(prompt, response) if response is not None else None,
            "latency_ms": 0.0 if response is None else float(400 + 37 * (minute % 23) + 3 * len(response) % 900),
            "attempts": attempts, "collected_at": f"2026-11-20T10:{minute // 60:02d}:{minute % 60:02d}Z"}


def main():
    failed_verbose = "p33"  # its verbose pair never succeeded: counted as failed, not encoded
    retried_terse = "p12"   # fails first, succeeds on a later attempt: the success wins
    lines, minute = [], 0
    for i, (pid, cat, prompt, terse, points, _) in enumerate(PROMPTS):
        if pid == retried_terse:
            lines.append(record(pid, cat, prompt, "terse", "synthetic/terse-v1", None,
                                "HTTP 429: rate limited after 4 attempts", 4, minute))
            minute += 1
        else:
            lines.append(record(pid, cat, prompt, "terse", "synthetic/terse-v1", terse, None, 1, minute))
            minute += 1
        if pid == failed_verbose:
            lines.append(record(pid, cat, prompt, "verbose", "synthetic/verbose-v2", None,
                                "HTTP 429: rate limited after 4 attempts", 4, minute))
        else:
            lines.append(record(pid, cat, prompt, "verbose", "synthetic/verbose-v2",
                                verbose_answer(i, prompt, points, cat), None, 1, minute))
        minute += 1
    terse_retry = next(p for p in PROMPTS if p[0] == retried_terse)
    lines.append(record(retried_terse, terse_retry[1], terse_retry[2], "terse", "synthetic/terse-v1", terse_retry[3],
                        None, 2, minute))
    with open(os.path.join(HERE, "responses.jsonl"), "w", encoding="utf-8", newline="\n") as f:
        for r in lines:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "category", "prompt", "rationale"])
    for pid, cat, prompt, _, _, rationale in PROMPTS:
        w.writerow([pid, cat, prompt, rationale])
    w.writerow(["p46", "formatting", "Answer in two lines:\nfirst a \"yes\" or \"no\", then why, briefly.",
                "multi-line prompt with quotes, commas"])
    with open(os.path.join(HERE, "prompts.csv"), "w", encoding="utf-8", newline="") as f:
        f.write(buf.getvalue())


if __name__ == "__main__":
    main()
