#!/usr/bin/env python3
"""Renders report.html in headless Chromium and checks that it works offline and shows its figures.

(a) The screenshot is a PNG of the window's size, not blank, and shows the figures: it must hold at least
    MIN_FIGURE_PIXELS more red and more blue pixels (the two sets' colours) than a rendering of the same
    page with every figure swapped for a blank box of the same size.
(b) The page requests nothing outside file:// (data:, blob:, about: and chrome: are local too), judged from
    Chromium's net log, with DNS mapped to nowhere so that nothing can leave the machine; and no element
    attribute (src, href, srcset, ...), style attribute or <style> sheet points at an http(s) or
    protocol-relative URL. Hyperlinks (<a href>) are not loads and are allowed; so is text, such as a URL in
    the <pre> configuration block.
The checks prove they can fail: the figure-less copy also gets an external <img>, stylesheet, CSS
background and preconnect injected, and the test fails unless the static scan flags all four and the net
log the three loads. The colour check fails by construction when the figures are missing or drawn in
neither colour (the page then has no more red or blue than its figure-less copy).

Usage: report_render.py --chromium PATH --work DIR REPORT_HTML"""
import argparse
import html.parser
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import zlib

import numpy as np

WINDOW = (1280, 8000)       # CSS px at device scale 1: wide enough for the report, tall enough for its figures
MIN_FIGURE_PIXELS = 300     # red and blue pixels the figures must add, each
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:", "chrome:", "chrome-untrusted:", "devtools:")
INJECTED = ("https://example.com/injected.png", "http://example.org/injected.css",
            "https://example.net/injected-bg.png", "https://example.invalid/preconnect")
failures = []


def check(cond, msg):
    print(("ok: " if cond else "FAIL: ") + msg)
    if not cond:
        failures.append(msg)
    return cond


# ---- (b) static scan -----------------------------------------------------------------------------------

URL_ATTRS = {"src", "href", "srcset", "poster", "data", "action", "formaction", "background", "xlink:href",
             "manifest", "ping", "icon", "lowsrc", "dynsrc", "codebase", "archive", "imagesrcset"}
EXTERNAL = re.compile(r"^\s*(https?:)?//", re.I)
CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""", re.I)


class Scanner(html.parser.HTMLParser):
    """External URLs in attributes and CSS; text content is not looked at."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found, self.in_style = [], False

    def css(self, where, text):
        for m in CSS_URL.finditer(text):
            url = m.group(1) or m.group(2)
            if EXTERNAL.match(url):
                self.found.append(f"{where}: {url}")

    def handle_starttag(self, tag, attrs):
        self.in_style = tag == "style"
        for name, value in attrs:
            value = value or ""
            if name in URL_ATTRS and not (tag in ("a", "area") and name == "href"):
                for url in (value.split(",") if "srcset" in name else [value]):
                    if EXTERNAL.match(url):
                        self.found.append(f"<{tag} {name}>: {url.strip()}")
            elif name == "style":
                self.css(f"<{tag} style>", value)
            elif tag == "meta" and name == "content" and re.search(r"url\s*=\s*(https?:)?//", value, re.I):
                self.found.append(f"<meta content>: {value}")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        self.in_style = False

    def handle_endtag(self, tag):
        self.in_style = False

    def handle_data(self, data):
        if self.in_style:
            self.css("<style>", data)


def static_scan(text):
    s = Scanner()
    s.feed(text)
    s.close()
    return s.found


# ---- rendering and the net log -------------------------------------------------------------------------

def render(chromium, html_path, work, tag):
    """Screenshot and net log of one page load; returns (png, netlog) paths."""
    png, netlog, profile = (os.path.join(work, f"{tag}{ext}") for ext in (".png", ".netlog.json", ".profile"))
    for p in (png, netlog):
        if os.path.exists(p):
            os.remove(p)
    shutil.rmtree(profile, ignore_errors=True)
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
           "--force-device-scale-factor=1", f"--window-size={WINDOW[0]},{WINDOW[1]}", f"--user-data-dir={profile}",
           "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
           "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-default-apps",
           "--no-proxy-server", "--host-resolver-rules=MAP * ~NOTFOUND", f"--log-net-log={netlog}",
           "--net-log-capture-mode=Everything", "--virtual-time-budget=10000", f"--screenshot={png}",
           "file://" + os.path.abspath(html_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        print(out.decode(errors="replace")[-3000:])
        raise SystemExit(f"FAIL: chromium did not finish {html_path} within 120 s")
    shutil.rmtree(profile, ignore_errors=True)
    if proc.returncode != 0 or not os.path.exists(png):
        print(out.decode(errors="replace")[-3000:])
        raise SystemExit(f"FAIL: chromium exited {proc.returncode} on {html_path} without a screenshot")
    return png, netlog


def load_netlog(path):
    text = open(path, encoding="utf-8", errors="replace").read().rstrip()
    for tail in ("", "]}", "}]}", "]}}"):  # a log cut short (killed browser) lacks its closing brackets
        try:
            return json.loads(text.rstrip(",") + tail)
        except json.JSONDecodeError:
            continue
    raise SystemExit(f"FAIL: cannot parse the net log {path}")


def page_requests(netlog_path):
    """(page, browser): non-local URLs requested on behalf of the page, and by the browser itself.

    An event belongs to the page when its parameters name file:// (the network isolation or anonymization
    key, site-for-cookies or socket group of a file:// page), or when it starts a URL request with an
    initiator origin (for a file:// page: "null"); every http(s)/ws(s)/ftp URL in such an event counts,
    down to a bare preconnected host. Chromium's own background fetches (component updater, network time,
    account checks) have neither; they are listed but allowed."""
    log = load_netlog(netlog_path)
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    url = re.compile(r"\b(?:https?|wss?|ftp)://[^\s\"'<>\\]+", re.I)
    page, requested = set(), set()
    for e in log["events"]:
        p = e.get("params") or {}
        text = json.dumps(p)
        if isinstance(p.get("url"), str) and not p["url"].lower().startswith(LOCAL_SCHEMES):
            requested.add(p["url"])
        started = names.get(e["type"]) == "URL_REQUEST_START_JOB" and "url" in p
        if "file://" in text or (started and p.get("initiator", "not an origin") != "not an origin"):
            page.update(url.findall(text))
    return sorted(page), sorted(requested - page)


# ---- (a) the screenshot ----------------------------------------------------------------------------------

def read_png(path):
    """8-bit RGB(A), non-interlaced PNG -> uint8 array [H, W, 3]."""
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise SystemExit(f"FAIL: {path} is not a PNG")
    pos, idat = 8, []
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
    if depth != 8 or colour not in (2, 6) or interlace != 0:
        raise SystemExit(f"FAIL: {path}: unsupported PNG (depth {depth}, colour type {colour}, interlace {interlace})")
    bpp = 3 if colour == 2 else 4
    raw = np.frombuffer(zlib.decompress(b"".join(idat)), np.uint8).reshape(h, w * bpp + 1)
    out = np.empty((h, w * bpp), np.uint8)
    prev = np.zeros(w * bpp, np.int32)
    for y in range(h):
        kind, line = int(raw[y, 0]), raw[y, 1:].astype(np.int32)
        if kind == 0:
            cur = line
        elif kind == 1:  # Sub: running sum along the row, per channel
            cur = np.cumsum(line.reshape(w, bpp), axis=0).reshape(-1) & 255
        elif kind == 2:  # Up
            cur = (line + prev) & 255
        else:            # Average, Paeth: sequential along the row, in plain ints (numpy scalars are slow)
            cur, p = [0] * bpp + line.tolist(), [0] * bpp + prev.tolist()  # a zero pixel left of the row
            if kind == 3:
                for i in range(bpp, len(cur)):
                    cur[i] = (cur[i] + ((cur[i - bpp] + p[i]) >> 1)) & 255
            else:
                for i in range(bpp, len(cur)):
                    a, b, c = cur[i - bpp], p[i], p[i - bpp]
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    cur[i] = (cur[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
            cur = np.array(cur[bpp:], np.int32)
        out[y] = cur
        prev = cur
    return out.reshape(h, w, bpp)[:, :, :3]


def colours(img):
    """Pixel counts: reddish (candidate) and bluish (baseline) in any shade, non-white, distinct colours."""
    r, g, b = (img[:, :, i].astype(np.int16) for i in range(3))
    red = (r >= 140) & (r - g >= 60) & (r - b >= 60)
    blue = (b >= 120) & (b - r >= 60) & (b >= g)
    packed = (r.astype(np.int32) << 16) | (g.astype(np.int32) << 8) | b.astype(np.int32)
    return {"red": int(red.sum()), "blue": int(blue.sum()), "non_white": int((img.min(axis=2) < 245).sum()),
            "distinct": int(np.unique(packed[::2, ::2]).size)}


# ---- the tampered copy -----------------------------------------------------------------------------------

def without_figures(text, folder):
    """Every inline <svg> and every <img> of a local file swapped for a blank box of the same size, so that
    the layout stays put; then the external loads of INJECTED added. A <base> keeps the report's relative
    references resolving in `folder`, wherever the copy is written."""
    def box(attrs):
        w = re.search(r'\bwidth="([\d.]+)', attrs)
        h = re.search(r'\bheight="([\d.]+)', attrs)
        size = f"width:{w.group(1)}px;height:{h.group(1)}px;" if w and h else ""
        return f'<div style="{size}display:inline-block"></div>'
    text, n_svg = re.subn(r"<svg\b([^>]*)>.*?</svg>", lambda m: box(m.group(1)), text, flags=re.S | re.I)
    n_img = 0

    def local_img(m):
        nonlocal n_img
        src = re.search(r"""\bsrc\s*=\s*["']?([^"'\s>]*)""", m.group(1), re.I)
        if src and EXTERNAL.match(src.group(1)):
            return m.group(0)
        n_img += 1
        return box(m.group(1))
    text = re.sub(r"<img\b([^>]*)>", local_img, text, flags=re.I)
    img, css, bg, pre = INJECTED
    base = f'<base href="file://{os.path.abspath(folder)}/">'
    text = re.sub(r"<head\b[^>]*>", lambda m: m.group(0) + base, text, count=1, flags=re.I)
    head = f'<link rel="stylesheet" href="{css}"><link rel="preconnect" href="{pre}">'
    body = (f'<img src="{img}" width="1" height="1" alt="">'
            f'<div style="width:1px;height:1px;background:url({bg})"></div>')
    text = re.sub(r"</head>", lambda m: head + m.group(0), text, count=1, flags=re.I)
    text = re.sub(r"</body>", lambda m: body + m.group(0), text, count=1, flags=re.I)
    return text, n_svg + n_img


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chromium", required=True, help="chromium binary (CMake's find_program result)")
    ap.add_argument("--work", required=True, help="folder for screenshots and net logs")
    ap.add_argument("report", help="report.html")
    args = ap.parse_args()
    chromium = args.chromium if os.path.isabs(args.chromium) else shutil.which(args.chromium) or args.chromium
    if not (os.path.isfile(chromium) and os.access(chromium, os.X_OK)):
        print(f"FAIL: chromium not found ('{args.chromium}'): run scripts/setup.sh, which installs the Debian "
              "package chromium, then re-run cmake so that find_program sees it")
        sys.exit(1)
    if not os.path.isfile(args.report):
        print(f"FAIL: no report at {args.report} (did demo_run_np2 run?)")
        sys.exit(1)
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    text = open(args.report, encoding="utf-8").read()

    # The report as it is.
    found = static_scan(text)
    check(not found, "no external URL in attributes or CSS" + "".join(f"\n    {f}" for f in found))
    png, netlog = render(chromium, args.report, args.work, "report")
    page, browser = page_requests(netlog)
    check(not page, "the page requested nothing outside file://" + "".join(f"\n    {u}" for u in page))
    if browser:
        print(f"   (Chromium's own background requests, allowed: {', '.join(u.split('?')[0] for u in browser)})")
    img = read_png(png)
    check(img.shape[:2] == (WINDOW[1], WINDOW[0]),
          f"screenshot is {img.shape[1]}x{img.shape[0]} px, the window's {WINDOW[0]}x{WINDOW[1]}")
    seen = colours(img)
    check(seen["non_white"] >= 0.01 * img.shape[0] * img.shape[1] and seen["distinct"] >= 64,
          f"screenshot is not blank: {seen['non_white']} non-white pixels, {seen['distinct']} colours (sampled)")

    # The same page without figures and with external loads: every detector must fire.
    tampered_path = os.path.join(args.work, "tampered.html")
    tampered, n_figures = without_figures(text, os.path.dirname(args.report))
    open(tampered_path, "w", encoding="utf-8").write(tampered)
    check(n_figures > 0, f"the report has figures to take out ({n_figures} inline <svg> or local <img>)")
    t_found = static_scan(tampered)
    check(all(any(u in f for f in t_found) for u in INJECTED),
          f"the static scan flags all {len(INJECTED)} injected URLs in the tampered copy ({len(t_found)} found)")
    t_png, t_netlog = render(chromium, tampered_path, args.work, "tampered")
    t_page, _ = page_requests(t_netlog)
    check(all(u in t_page for u in INJECTED[:3]),
          "the net log shows the tampered copy's image, stylesheet and CSS background loads: " + ", ".join(t_page))
    t_seen = colours(read_png(t_png))
    print(f"   colours with figures {seen}, without {t_seen}")
    for name, what in (("red", "features more frequent in the candidate"), ("blue", "in the baseline")):
        added = seen[name] - t_seen[name]
        hint = "" if added >= MIN_FIGURE_PIXELS else f" (figures missing, recoloured or below {WINDOW[1]} px?)"
        check(added >= MIN_FIGURE_PIXELS,
              f"the figures add {added} {name} pixels ({what}); need {MIN_FIGURE_PIXELS}{hint}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
