#!/usr/bin/env python3
"""A deterministic OpenAI-compatible chat-completions server on loopback, for collector tests.

  python3 mock_openrouter.py PORT_FILE LOG_FILE [--lifetime S] [--latency S]

Binds 127.0.0.1 on a free port and writes the port to PORT_FILE. POST /v1/chat/completions answers
"<model> says: <prompt reversed>" after --latency seconds (default 0). Fault injection by markers in the
prompt:
  [flaky-N]   the first N requests for that (model, prompt) get HTTP 500
  [ratelimit] the first request gets 429 with Retry-After: 0
  [ratedate]  the first request gets 429 with Retry-After as an HTTP-date 2 s ahead
  [reject]    always HTTP 400 (a permanent failure)
  [unauth]    always HTTP 401 (a refused key)
  [flagged]   always HTTP 403 (OpenRouter: the input was flagged by moderation)
  [badbody]   always HTTP 400 with a body that is not UTF-8
  [apierror]  HTTP 200 with an {"error": ...} body, always
  [html502]   the first 2 requests get 502 with an HTML body; [html503] the first gets 503 with HTML
  [truncjson] the first request gets 200 with a JSON body cut in half (Content-Length matching)
  [cutoff]    the first request's connection closes before the promised Content-Length arrives
  [length]    the answer has finish_reason "length" (a truncated answer)
  [unicode]   the answer is UNICODE_ANSWER (combining marks, ZWJ emoji, CJK, RTL, U+FFFD) + the prompt
  [slow]      sleeps 5 s before answering (longer than the test's --timeout)
Prompts from `saediff label` (starting "[saediff-autointerp label]" / "[saediff-autointerp score]") get
an autointerp answer: the label is "mentions <the most common marked ⟦span⟧>" in a ```json fence amid chatter,
except that a label prompt whose CRC-32 is divisible by 4 gets no JSON at all; a score answer lists the
excerpts that contain the label's word, as JSON with trailing text.
Prompts from `saediff interpret` ("[saediff-interpret ...]") get a proposer's or judge's answer (interpret_answer).
Usage objects carry token counts, completion_tokens_details.reasoning_tokens and a cost. Every request
is appended to LOG_FILE as JSON: model, prompt, authorization header, status, the requests in flight when
it arrived (itself included), arrival time, and the request's reasoning and usage fields. The server
exits by itself after --lifetime seconds (default 120)."""
import email.utils
import json
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COUNTS, LOCK = {}, threading.Lock()
IN_FLIGHT = [0]
LATENCY = [0.0]
UNICODE_ANSWER = "e\u0301 cafe\u0301 👩\u200d💻 🇫🇷 你好 مرحبا שָׁלוֹם \ufffd \U0001d54f 'LL\r\n\t« » —"
HTML = b"<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>"


class Server(ThreadingHTTPServer):
    request_queue_size = 512  # the default 5 drops SYNs under high client concurrency (1 s retransmits)
    daemon_threads = True


class Handler(BaseHTTPRequestHandler):
    def setup(self):
        super().setup()
        # Headers and body go out as separate writes; without NODELAY, Nagle plus the client's delayed ACK
        # add ~40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *args):
        pass

    def leave(self):
        # Counted out of IN_FLIGHT before the answer goes out: a client may send its next request the moment it
        # has this answer, and that request must not find this one still counted.
        if getattr(self, "counted", False):
            self.counted = False
            with LOCK:
                IN_FLIGHT[0] -= 1

    def reply(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.leave()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def raw(self, status, data, content_type, length=None):
        self.leave()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data) if length is None else length))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        with LOCK:
            IN_FLIGHT[0] += 1
            in_flight = IN_FLIGHT[0]
        self.counted = True
        try:
            self.handle_post(in_flight)
        finally:
            self.leave()

    def handle_post(self, in_flight):
        arrived = time.time()
        req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        model, prompt = req["model"], req["messages"][0]["content"]
        with LOCK:
            n = COUNTS[(model, prompt)] = COUNTS.get((model, prompt), 0) + 1
        if LATENCY[0] > 0:
            time.sleep(LATENCY[0])
        raw = None
        status, body, headers = 200, None, []
        flaky = [int(t[7:-1]) for t in prompt.split() if t.startswith("[flaky-") and t.endswith("]")]
        if self.path != "/v1/chat/completions":
            status, body = 404, {"error": {"message": "not found"}}
        elif "[echokey400]" in prompt:  # a proxy that echoes the request's key in its error body
            auth = self.headers.get("Authorization") or ""
            status, body = 400, {"error": {"message": f"invalid request from {auth}", "key": auth[7:]}}
        elif "[echokey500]" in prompt:
            status, body = 500, {"error": {"message": f"upstream rejected {self.headers.get('Authorization')}"}}
        elif "[echokeyheader]" in prompt:
            status, body = 502, {"error": {"message": "bad gateway"}}
            headers = [("X-Echo-Authorization", self.headers.get("Authorization") or "")]
        elif "[emptybody]" in prompt:
            status, raw = 200, (b"", "application/json", None)
        elif "[reject]" in prompt:
            status, body = 400, {"error": {"message": "invalid request"}}
        elif "[unauth]" in prompt:
            status, body = 401, {"error": {"message": "No auth credentials found", "code": 401}}
        elif "[flagged]" in prompt:
            status, body = 403, {"error": {"message": "Your input was flagged", "code": 403}}
        elif "[badbody]" in prompt:
            status, raw = 400, (b'{"error": {"message": "caf\xe9 \xff\xfe invalid"}}', "application/json", None)
        elif ("[html502]" in prompt and n <= 2) or ("[html503]" in prompt and n == 1):
            status, raw = (502 if "[html502]" in prompt else 503), (HTML, "text/html", None)
        elif "[truncjson]" in prompt and n == 1:
            status, raw = 200, (b'{"id": "gen", "choices": [{"index": 0, "message": {"role": "assi', "application/json", None)
        elif "[cutoff]" in prompt and n == 1:
            status, raw = 200, (b'{"id": "gen", "choices": [', "application/json", 4096)
        elif "[ratelimit]" in prompt and n == 1:
            status, body, headers = 429, {"error": {"message": "rate limited"}}, [("Retry-After", "0")]
        elif "[ratedate]" in prompt and n == 1:
            when = email.utils.formatdate(time.time() + 2, usegmt=True)
            status, body, headers = 429, {"error": {"message": "rate limited"}}, [("Retry-After", when)]
        elif flaky and n <= flaky[0]:
            status, body = 500, {"error": {"message": "upstream error"}}
        elif "[apierror]" in prompt:
            body = {"error": {"code": 502, "message": "provider returned error"}}
        else:
            if "[slow]" in prompt:
                time.sleep(5)
            content = (UNICODE_ANSWER + " " + prompt) if "[unicode]" in prompt else f"{model} says: {prompt[::-1]}"
            if "[huge]" in prompt:
                content = "x" * (5 << 20)
            if "[echokey200]" in prompt:
                content = f"the bearer of your key: {(self.headers.get('Authorization') or '')[7:]}"
            if prompt.startswith("[saediff-autointerp "):
                content = autointerp_answer(prompt)
            if prompt.startswith("[saediff-interpret "):
                content = interpret_answer(model, prompt)
            body = {"id": f"gen-{n}", "model": model,
                    "choices": [{"index": 0, "finish_reason": "length" if "[length]" in prompt else "stop",
                                 "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": 3,
                              "total_tokens": 3 + len(prompt.split()),
                              "completion_tokens_details": {"reasoning_tokens": 2}, "cost": 0.25}}
        with LOCK, open(LOG, "a") as f:
            f.write(json.dumps({"model": model, "prompt": prompt, "authorization": self.headers.get("Authorization"),
                                "status": status, "max_tokens": req.get("max_tokens"),
                                "temperature": req.get("temperature"), "in_flight": in_flight, "arrived": arrived,
                                "reasoning": req.get("reasoning"), "usage": req.get("usage")}) + "\n")
        try:
            if raw is not None:
                self.raw(status, *raw)
                if raw[2] is not None:  # promised more than it sent: drop the connection
                    self.close_connection = True
            else:
                self.reply(status, body, headers)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out first


def autointerp_answer(prompt):
    """A deterministic stand-in for an LLM labeller (see the module docstring)."""
    import re
    import zlib
    if prompt.startswith("[saediff-autointerp label]"):
        if zlib.crc32(prompt.encode()) % 4 == 0:
            return "I am not sure what this feature does."
        active = prompt.split("## Active", 1)[1].split("## Never active", 1)[0]
        spans = [m.strip().lower() for m in re.findall(r"⟦(.*?)\|[0-9.]+⟧", active, flags=re.S)]
        spans = [s for s in spans if s] or ["nothing"]
        word = max(sorted(set(spans)), key=spans.count)
        label = json.dumps({"label": f"mentions {word}", "explanation": f"Fires on '{word}'."}, ensure_ascii=False)
        return f"Sure! Here is my answer:\n```json\n{label}\n```\nHope this helps."
    word = re.search(r'described as: "mentions (.*?)"\.', prompt, flags=re.S).group(1)
    excerpts = re.split(r"\n=== excerpt (\d+) ===\n", prompt)
    hits = [int(excerpts[i]) for i in range(1, len(excerpts) - 1, 2) if word in excerpts[i + 1].lower()]
    return json.dumps({"active": hits}) + " (based on the described feature)"


def quoted_words(text):
    return [w.lower() for w in re.findall(r'"([^"]+)"', text)]


def count_words(words, text):
    """Occurrences of any of `words` in `text` (case-insensitive; whole words where a word is alphanumeric)."""
    text = text.lower()
    n = 0
    for w in words:
        if re.fullmatch(r"\w+", w):
            n += len(re.findall(r"(?<!\w)" + re.escape(w) + r"(?!\w)", text))
        else:
            n += text.count(w)
    return n


def hypothesis(words, up):
    quoted = " or ".join(f'"{w}"' for w in words)
    return f"The candidate's answers use {quoted} {'more' if up else 'less'} often than the baseline's."


def interpret_answer(model, prompt):
    """A deterministic stand-in for interpret's proposer and judge, decided by the text it is shown.

    Proposer (SAE): per feature block, in order, the marked ⟦spans⟧ of its excerpts become "The candidate's answers
    use "w1" or "w2" more (less) often than the baseline's", by the sign of the stated diff. Proposer (baseline): the
    words whose number of candidate answers minus baseline answers is largest either way. A proposer model whose id
    holds "nojson" answers without JSON. Judge: model "...always-a" always says A; "...coin" says A or B by the
    prompt's CRC-32; otherwise it counts the hypothesis' quoted words in each answer and picks the answer with more
    ("less often": fewer), "neither" on a tie."""
    import zlib
    kind = prompt.split("]", 1)[0][len("[saediff-interpret "):]
    if kind.startswith("propose"):
        if "nojson" in model:
            return "I could not find any difference worth stating."
        n_max = int(re.search(r"Propose up to (\d+) ", prompt).group(1))
        hyps, seen = [], set()
        if kind == "propose-sae":
            for block in prompt.split("\n=== feature ")[1:]:
                feature = int(block.split(" ", 1)[0])
                up = re.search(r"; diff ([+-])", block).group(1) == "+"
                spans = [m.strip().lower() for m in re.findall(r"⟦(.*?)\|[0-9.]+⟧", block, flags=re.S)]
                spans = [w for w in spans if w and '"' not in w]
                words = sorted(set(spans), key=lambda w: (-spans.count(w), w))[:4]
                if not words or tuple(words) in seen:
                    continue
                seen.add(tuple(words))
                hyps.append({"text": hypothesis(words, up), "features": [feature]})
        else:
            pairs = re.findall(r"--- baseline answer ---\n(.*?)\n--- candidate answer ---\n(.*?)(?=\n=== pair |\Z)",
                               prompt, flags=re.S)
            df = {}
            for b, c in pairs:
                for w in set(re.findall(r"[a-z]{3,}", c.lower())):
                    df[w] = df.get(w, 0) + 1
                for w in set(re.findall(r"[a-z]{3,}", b.lower())):
                    df[w] = df.get(w, 0) - 1
            for w in sorted(df, key=lambda w: (-abs(df[w]), w)):
                if abs(df[w]) >= 2:
                    hyps.append({"text": hypothesis([w], df[w] > 0), "features": []})
        text = json.dumps({"hypotheses": hyps[:n_max]}, ensure_ascii=False)
        return f"Here are my hypotheses.\n```json\n{text}\n```\nEach can be tested."
    if "always-a" in model:
        return '{"answer": "A"}'
    if "coin" in model:
        return json.dumps({"answer": "A" if zlib.crc32(prompt.encode()) % 2 == 0 else "B"})
    hyp = re.search(r"^Hypothesis: (.*)$", prompt, flags=re.M).group(1)
    answer_a = prompt.split("\n\n## Answer A\n", 1)[1].split("\n\n## Answer B\n", 1)[0]
    answer_b = prompt.split("\n\n## Answer B\n", 1)[1]
    words = quoted_words(hyp)
    a, b = count_words(words, answer_a), count_words(words, answer_b)
    if " less often" in hyp:
        a, b = -a, -b
    verdict = "A" if a > b else "B" if b > a else "neither"
    return f'The answer is {{"answer": "{verdict}"}}.'


def launch(work, latency=0.0, lifetime=240.0):
    """Starts this server as a subprocess logging to WORK/requests-LATENCY.jsonl; returns (process, base
    URL, log path) once it listens. For tests and benchmarks: `sys.path` must hold this folder."""
    import os
    import subprocess
    port_file, log = os.path.join(work, f"port-{latency}"), os.path.join(work, f"requests-{latency}.jsonl")
    server = subprocess.Popen([sys.executable, os.path.abspath(__file__), port_file, log, "--lifetime", str(lifetime),
                               "--latency", str(latency)])
    for _ in range(200):
        if os.path.exists(port_file):
            break
        time.sleep(0.05)
    with open(port_file) as f:
        return server, f"http://127.0.0.1:{f.read()}/v1", log


if __name__ == "__main__":
    port_file, LOG = sys.argv[1], sys.argv[2]
    lifetime = float(sys.argv[sys.argv.index("--lifetime") + 1]) if "--lifetime" in sys.argv else 120.0
    LATENCY[0] = float(sys.argv[sys.argv.index("--latency") + 1]) if "--latency" in sys.argv else 0.0
    server = Server(("127.0.0.1", 0), Handler)
    threading.Timer(lifetime, server.shutdown).start()
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.replace(port_file + ".tmp", port_file)
    server.serve_forever()
