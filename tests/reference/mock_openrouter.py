#!/usr/bin/env python3
"""A deterministic OpenAI-compatible chat-completions server on loopback, for collector tests.

  python3 mock_openrouter.py PORT_FILE LOG_FILE [--lifetime S]

Binds 127.0.0.1 on a free port and writes the port to PORT_FILE. POST /v1/chat/completions answers
"<model> says: <prompt reversed>". Fault injection by markers in the prompt:
  [flaky-N]   the first N requests for that (model, prompt) get HTTP 500
  [ratelimit] the first request gets 429 with Retry-After: 0
  [reject]    always HTTP 400 (a permanent failure)
  [apierror]  HTTP 200 with an {"error": ...} body, always
  [slow]      sleeps 5 s before answering (longer than the test's --timeout)
Every request is appended to LOG_FILE as JSON: model, prompt, authorization header, status. The server
exits by itself after --lifetime seconds (default 120)."""
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

COUNTS, LOCK = {}, threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=()):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
        model, prompt = req["model"], req["messages"][0]["content"]
        with LOCK:
            n = COUNTS[(model, prompt)] = COUNTS.get((model, prompt), 0) + 1
        status, body, headers = 200, None, []
        flaky = [int(t[7:-1]) for t in prompt.split() if t.startswith("[flaky-") and t.endswith("]")]
        if self.path != "/v1/chat/completions":
            status, body = 404, {"error": {"message": "not found"}}
        elif "[reject]" in prompt:
            status, body = 400, {"error": {"message": "invalid request"}}
        elif "[ratelimit]" in prompt and n == 1:
            status, body, headers = 429, {"error": {"message": "rate limited"}}, [("Retry-After", "0")]
        elif flaky and n <= flaky[0]:
            status, body = 500, {"error": {"message": "upstream error"}}
        elif "[apierror]" in prompt:
            body = {"error": {"code": 502, "message": "provider returned error"}}
        else:
            if "[slow]" in prompt:
                time.sleep(5)
            body = {"id": f"gen-{n}", "model": model,
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": f"{model} says: {prompt[::-1]}"}}],
                    "usage": {"prompt_tokens": len(prompt.split()), "completion_tokens": 3, "total_tokens": 3 + len(prompt.split())}}
        with LOCK, open(LOG, "a") as f:
            f.write(json.dumps({"model": model, "prompt": prompt, "authorization": self.headers.get("Authorization"),
                                "status": status, "max_tokens": req.get("max_tokens"),
                                "temperature": req.get("temperature")}) + "\n")
        try:
            self.reply(status, body, headers)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client timed out first


if __name__ == "__main__":
    port_file, LOG = sys.argv[1], sys.argv[2]
    lifetime = float(sys.argv[sys.argv.index("--lifetime") + 1]) if "--lifetime" in sys.argv else 120.0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Timer(lifetime, server.shutdown).start()
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    import os
    os.replace(port_file + ".tmp", port_file)
    server.serve_forever()
