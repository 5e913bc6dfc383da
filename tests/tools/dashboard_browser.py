#!/usr/bin/env python3
"""Drives Debian's headless Chromium through chromedriver (W3C WebDriver
over plain HTTP, standard library only) against the broker's dashboard.

Usage: dashboard_browser.py URL TOKENFILE SCREENSHOT CTL INCIDENT XINCIDENT

Opens the dashboard with the bearer token set through the DevTools
protocol (never in the URL), checks it shows the incidents, then issues
a request and an EXERCISE request with CTL (art17ctl) and watches the same
page, without reloading, until each member x state matrix shows every
copy acked and the receipt curve is drawn; checks that EXERCISE is shown
unmistakably on the drill request and not on the real one; and saves a
screenshot. Exit 0 on success, 1 on a failed check.
"""
import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class WebDriver:
    def __init__(self, base):
        self.base = base
        self.sid = None

    def call(self, method, path, body=None, timeout=60):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + path, data=data,
                                     method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read().decode() or "{}").get("value")
        except urllib.error.HTTPError as e:
            fail("webdriver %s %s: %s" % (method, path,
                                          e.read().decode()[:500]))

    def session(self, args):
        v = self.call("POST", "/session", {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"args": args,
                                   "binary": shutil.which("chromium")}}}})
        self.sid = v["sessionId"]

    def s(self, method, path, body=None):
        return self.call(method, "/session/%s%s" % (self.sid, path), body)

    def cdp(self, cmd, params):
        return self.s("POST", "/goog/cdp/execute",
                      {"cmd": cmd, "params": params})

    def js(self, script, *args):
        return self.s("POST", "/execute/sync",
                      {"script": script, "args": list(args)})

    def wait(self, script, what, timeout=30, *args):
        end = time.time() + timeout
        last = None
        while time.time() < end:
            last = self.js(script, *args)
            if last:
                return last
            time.sleep(0.2)
        fail("timed out waiting for %s (last: %r)" % (what, last))


def ctl(bin_ctl, *args):
    r = subprocess.run([bin_ctl] + list(args), capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0:
        fail("art17ctl %s: %s" % (" ".join(args), r.stderr))
    return r.stdout.splitlines()[0].strip()


MATRIX_DONE = """
const box = document.querySelector('[data-request="' + arguments[0] + '"]');
if (!box) return null;
const rows = box.querySelectorAll('table.matrix tr[data-member]');
const states = Array.from(rows).map(r => r.dataset.state);
if (states.length !== arguments[1]) return null;
if (!states.every(s => s === 'acked')) return null;
const cur = box.querySelectorAll('td.cur.acked').length;
const poly = box.querySelector('svg.curve polyline');
const pts = poly ? poly.getAttribute('points').trim().split(' ').length : 0;
return {states: states, cur: cur, curve_points: pts,
        text: box.innerText, banner: !!box.querySelector('.exercise-banner')};
"""


def main():
    if len(sys.argv) != 7:
        fail("usage: " + __doc__.splitlines()[2])
    url, tokfile, shot, bin_ctl, inc, xinc = sys.argv[1:]
    token = open(tokfile).read().strip()
    port = free_port()
    logf = open(os.path.join(os.path.dirname(shot), "chromedriver.log"), "w")
    drv = subprocess.Popen(["chromedriver", "--port=%d" % port,
                            "--allowed-ips=127.0.0.1"],
                           stdout=logf, stderr=subprocess.STDOUT)
    profile = tempfile.mkdtemp(prefix="a17-chromium-")
    wd = WebDriver("http://127.0.0.1:%d" % port)
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(wd.base + "/status", timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        args = ["--headless=new", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1800", "--user-data-dir=" + profile,
                "--no-first-run", "--disable-extensions"]
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses root otherwise
        wd.session(args)

        # without the token the page is refused (Chromium would prompt)
        wd.s("POST", "/url", {"url": url})
        time.sleep(0.5)
        seen = wd.js("return [document.getElementById('status') !== null,"
                     " document.body ? document.body.innerText : '']")
        if seen[0] or "coordinator dashboard" in seen[1]:
            fail("dashboard served without authentication: %r" % seen)

        wd.cdp("Network.enable", {})
        wd.cdp("Network.setExtraHTTPHeaders",
               {"headers": {"Authorization": "Bearer " + token}})
        wd.s("POST", "/url", {"url": url})
        wd.wait("return document.querySelector('#status[data-updated]')"
                " && document.getElementById('status').innerText",
                "the first update")
        st = wd.js("return document.getElementById('status').innerText")
        if "members 3" not in st or "agents connected 3" not in st:
            fail("status line: %r" % st)
        wd.wait("return document.querySelector('[data-incident=\"%s\"] "
                "[data-flag=\"active\"]') !== null" % inc,
                "incident %s with its active flag" % inc)
        if "No requests." not in wd.js(
                "return document.getElementById('requests').innerText"):
            fail("requests shown before any was issued")
        before = wd.js("return performance.timeOrigin")

        # issue while the page is open; it must update by itself
        rid = ctl(bin_ctl, "request", "issue", "--kind", "cooperation",
                  "--incident", inc, "--title", "Check VPN gateways",
                  "--content", "dashboard test", "--secret", "no")
        xid = ctl(bin_ctl, "request", "issue", "--kind", "cooperation",
                  "--incident", xinc, "--exercise", "--title", "Drill request",
                  "--content", "drill", "--secret", "no")
        real = wd.wait(MATRIX_DONE, "every copy of %s acked" % rid, 30,
                       rid, 3)
        drill = wd.wait(MATRIX_DONE, "every copy of %s acked" % xid, 30,
                        xid, 3)
        if wd.js("return performance.timeOrigin") != before:
            fail("the page reloaded: it must update in place")
        if real["cur"] != 3 or real["curve_points"] != 4:
            fail("matrix/curve of %s: %r" % (rid, real))
        if real["banner"] or "EXERCISE" in real["text"]:
            fail("the real request %s is marked EXERCISE" % rid)
        if not drill["banner"] or "EXERCISE" not in drill["text"]:
            fail("the drill request %s is not marked EXERCISE" % xid)
        top = wd.js("""
            const b = document.querySelector('#exercise-top .exercise-banner');
            if (!b) return null;
            const r = b.getBoundingClientRect();
            return {text: b.innerText, h: r.height, w: r.width,
                    title: document.title};""")
        if (not top or "EXERCISE" not in top["text"] or top["h"] < 20
                or not top["title"].startswith("EXERCISE")):
            fail("no unmistakable EXERCISE banner at the top: %r" % top)
        if "receipts: 3 of 3" not in real["text"] and \
                wd.js("return document.querySelector('[data-request=\"%s\"] "
                      "svg.curve text').textContent" % rid).find(
                          "receipts: 3 of 3") < 0:
            fail("receipt curve label")

        png = base64.b64decode(wd.s("GET", "/screenshot"))
        if png[:8] != b"\x89PNG\r\n\x1a\n" or len(png) < 10000:
            fail("screenshot is not a real PNG (%d bytes)" % len(png))
        with open(shot, "wb") as f:
            f.write(png)
        print("browser: %s and %s acked by 3 members, EXERCISE shown, "
              "screenshot %s (%d bytes)" % (rid, xid, shot, len(png)))
    finally:
        if wd.sid:
            try:
                wd.call("DELETE", "/session/" + wd.sid, timeout=20)
            except Exception:
                pass
        drv.terminate()
        try:
            drv.wait(10)
        except subprocess.TimeoutExpired:
            drv.kill()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
