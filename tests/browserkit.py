"""Headless Chromium (Debian's `chromium`) driven over the DevTools protocol, for the web tests.

No driver binary and no browser download: Chromium speaks the protocol on two pipes
(--remote-debugging-pipe: it reads commands on fd 3 and writes answers on fd 4, JSON
messages ended by a NUL byte). The page's HTTP authentication is answered as a user would
answer the browser's login box: Fetch.authRequired -> the user and password.

    with Browser(tmp_path, user="admin", password="pw") as br:
        br.goto("http://127.0.0.1:8080/")
        br.eval("document.title")
        br.screenshot(tmp_path / "page.png")
"""
import base64
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

# Debian's /usr/bin/chromium is a shell script that does not exec the browser: start the
# browser itself, so that the process we end is the browser
CHROMIUM = next((p for p in ("/usr/lib/chromium/chromium", shutil.which("chromium"),
                             shutil.which("chromium-browser")) if p and os.access(p, os.X_OK)),
                None)


class BrowserError(RuntimeError):
    pass


class Browser:
    def __init__(self, workdir, user=None, password=None, width=1280, height=900):
        if CHROMIUM is None:
            raise BrowserError("chromium is not installed (tools/setup_system.sh installs it)")
        self.user = user
        self.password = password
        self.auth_asked = 0             # login boxes the page raised
        self._id = 0
        self._answers = {}
        self._events = []
        self._cond = threading.Condition()
        self._wlock = threading.Lock()
        self._session = None
        workdir = Path(workdir)
        profile = workdir / "chromium-profile"
        profile.mkdir(parents=True, exist_ok=True)
        cmd_r, self._cmd_w = os.pipe()      # we write commands, Chromium reads them on fd 3
        self._ans_r, ans_w = os.pipe()      # Chromium writes on fd 4, we read
        args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                "--remote-debugging-pipe", "--user-data-dir=%s" % profile,
                "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update",
                "--disable-features=Translate,MediaRouter,OptimizationHints",
                "--window-size=%d,%d" % (width, height), "about:blank"]
        # the pipes land on fds 3 and 4 of the browser through a shell redirection (no
        # preexec_fn: the test process has threads)
        script = 'exec "$0" "$@" 3<&%d 4>&%d %d<&- %d>&-' % (cmd_r, ans_w, cmd_r, ans_w)
        self.log = open(workdir / "chromium.log", "wb")
        self.proc = subprocess.Popen(["bash", "-c", script] + args, pass_fds=(cmd_r, ans_w),
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        os.close(cmd_r)
        os.close(ans_w)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        try:
            target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            self._session = self.call("Target.attachToTarget",
                                      {"targetId": target, "flatten": True})["sessionId"]
            self.send("Page.enable")
            self.send("Runtime.enable")
            if user is not None:
                self.send("Fetch.enable", {"handleAuthRequests": True})
        except Exception:
            self.close()
            raise

    # -- protocol -----------------------------------------------------------------------------
    def _write(self, msg):
        data = json.dumps(msg).encode() + b"\0"
        with self._wlock:
            os.write(self._cmd_w, data)

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = os.read(self._ans_r, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._answers[None] = "closed"
                    self._cond.notify_all()
                return
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    with self._cond:
                        self._answers[msg["id"]] = msg
                        self._cond.notify_all()
                else:
                    self._event(msg)

    def _event(self, msg):
        method = msg.get("method")
        p = msg.get("params", {})
        if method == "Fetch.requestPaused":
            self._post("Fetch.continueRequest", {"requestId": p["requestId"]})
            return
        if method == "Fetch.authRequired":
            self.auth_asked += 1
            if self.user is None:
                resp = {"response": "CancelAuth"}
            else:
                resp = {"response": "ProvideCredentials", "username": self.user,
                        "password": self.password}
            self._post("Fetch.continueWithAuth", {"requestId": p["requestId"],
                                                  "authChallengeResponse": resp})
            return
        with self._cond:
            self._events.append(msg)
            self._cond.notify_all()

    def _post(self, method, params, session=True):
        with self._cond:
            self._id += 1
            i = self._id
        msg = {"id": i, "method": method, "params": params}
        if session and self._session:
            msg["sessionId"] = self._session
        self._write(msg)
        return i

    def call(self, method, params=None, timeout=30):
        """A browser-level command (no page session)."""
        return self._wait(self._post(method, params or {}, session=False), timeout)

    def send(self, method, params=None, timeout=30):
        """A command to the page; returns its result."""
        return self._wait(self._post(method, params or {}), timeout)

    def _wait(self, i, timeout):
        deadline = time.monotonic() + timeout
        with self._cond:
            while i not in self._answers:
                if None in self._answers:
                    raise BrowserError("chromium exited (see chromium.log)")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BrowserError("no answer from chromium within %.0f s" % timeout)
                self._cond.wait(left)
            msg = self._answers.pop(i)
        if "error" in msg:
            raise BrowserError(msg["error"])
        return msg.get("result", {})

    def wait_event(self, method, timeout=30, start=0):
        """The first event `method` at index >= start; returns (index, params)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            i = start
            while True:
                while i < len(self._events):
                    if self._events[i].get("method") == method:
                        return i, self._events[i].get("params", {})
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BrowserError("event %s not seen within %.0f s" % (method, timeout))
                self._cond.wait(left)

    # -- what a test does -----------------------------------------------------------------------
    def goto(self, url, timeout=30):
        start = len(self._events)
        res = self.send("Page.navigate", {"url": url})
        if res.get("errorText"):
            raise BrowserError("navigation failed: %s" % res["errorText"])
        self.wait_event("Page.loadEventFired", timeout, start)

    def eval(self, expr, timeout=30):
        """The value of a JavaScript expression (promises are awaited)."""
        res = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                             "awaitPromise": True}, timeout)
        if "exceptionDetails" in res:
            raise BrowserError("JavaScript: %s" % res["exceptionDetails"].get("exception", {})
                               .get("description", res["exceptionDetails"].get("text")))
        return res["result"].get("value")

    def wait_js(self, expr, timeout=20, every=0.2):
        """Wait until the expression is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            v = self.eval(expr)
            if v:
                return v
            if time.monotonic() > deadline:
                raise BrowserError("%s still false after %.0f s" % (expr, timeout))
            time.sleep(every)

    def screenshot(self, path, clip=None):
        """PNG of the page (or of clip = {x, y, width, height}) written to path; its bytes."""
        params = {"format": "png"}
        if clip:
            params["clip"] = dict(clip, scale=1)
        data = base64.b64decode(self.send("Page.captureScreenshot", params)["data"])
        Path(path).write_bytes(data)
        return data

    def close(self):
        try:
            os.close(self._cmd_w)           # Chromium exits when its command pipe closes
        except OSError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self._reader.join(5)
        try:
            os.close(self._ans_r)
        except OSError:
            pass
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def keep_artifacts(paths, test_name):
    """Copy test artefacts (screenshots) to $TEST_ARTIFACTS/<test name>/ when it is set."""
    dest = os.environ.get("TEST_ARTIFACTS")
    if not dest:
        return None
    out = Path(dest) / test_name
    out.mkdir(parents=True, exist_ok=True)
    for p in paths:
        if Path(p).exists():
            shutil.copy2(p, out / Path(p).name)
    return out
