"""HTTP clients for the web tests: plain requests with Digest, raw bytes, an MJPEG viewer.

Every request opens its own connection (the camera closes each one after its answer) and a
401 is answered once with Digest, as a browser or curl does.
"""
import socket
import threading
import time

from .rtsp_support import READER_RCVBUF, digest_header, parse_challenge


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # lower-case name -> value (last one wins)
        self.body = body

    def __repr__(self):
        return "<Response %d %s, %d bytes>" % (self.status, self.headers, len(self.body))


def _read_head(sock, deadline):
    data = b""
    while b"\r\n\r\n" not in data:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the head: %r" % data[:200])
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        k = k.strip().lower()
        headers[k] = headers[k] + "\n" + v.strip() if k in headers else v.strip()
    return status, headers, rest


def send(port, method, path, headers=None, body=b"", timeout=10, host="127.0.0.1"):
    """One request on a new connection; the whole answer (the server closes)."""
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as s:
        lines = ["%s %s HTTP/1.1" % (method, path), "Host: camera"]
        for k, v in (headers or {}).items():
            lines.append("%s: %s" % (k, v))
        if body:
            lines.append("Content-Length: %d" % len(body))
        s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        status, h, rest = _read_head(s, deadline)
        n = int(h.get("content-length", -1))
        while (n < 0 or len(rest) < n) and method != "HEAD" and status not in (204, 304):
            s.settimeout(max(0.05, deadline - time.monotonic()))
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            rest += chunk
    return Response(status, h, rest)


def request(port, method, path, user=None, password=None, headers=None, body=b"", timeout=10):
    """A request that answers the camera's Digest challenge (when user is given)."""
    r = send(port, method, path, headers, body, timeout)
    if r.status == 401 and user is not None:
        h = dict(headers or {})
        h["Authorization"] = auth_value(r, method, path, user, password)
        r = send(port, method, path, h, body, timeout)
    return r


def auth_value(r401, method, path, user, password):
    chal = [v for v in r401.headers["www-authenticate"].split("\n") if v.startswith("Digest")][0]
    p = parse_challenge(chal)
    return digest_header(user, password, p["realm"], p["nonce"], method, path, qop="auth")


def raw(port, data, timeout=5, host="127.0.0.1"):
    """Send bytes, return what comes back: until a whole answer (head and Content-Length
    body) is in, the server closes, or the timeout."""
    out = b""
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except OSError:
            pass
        while time.monotonic() < deadline:
            s.settimeout(max(0.05, deadline - time.monotonic()))
            try:
                chunk = s.recv(65536)
            except (socket.timeout, ConnectionResetError, BrokenPipeError):
                break
            if not chunk:
                break
            out += chunk
            head, sep, body = out.partition(b"\r\n\r\n")
            if sep and b"content-length:" in head.lower():
                n = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                if len(body) >= n:
                    break
    return out


def status_of(data):
    try:
        return int(data.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return None


class MjpegViewer:
    """Reads /stream.mjpg in a thread: frames (JPEG bytes, the last few kept) and the time
    each arrived."""

    def __init__(self, port, user=None, password=None, path="/stream.mjpg", keep=3):
        self.port = port
        self.times = []
        self.sizes = []
        self.last = []
        self.keep = keep
        self.error = None
        self._stop = threading.Event()
        h = {}
        if user is not None:
            r = send(port, "GET", path)
            if r.status == 401:
                h["Authorization"] = auth_value(r, "GET", path, user, password)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        # a thread late on a busy PC is not a viewer that stops reading (rtsp_support)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, READER_RCVBUF)
        req = "GET %s HTTP/1.1\r\nHost: camera\r\n" % path
        req += "".join("%s: %s\r\n" % kv for kv in h.items())
        self.sock.sendall((req + "\r\n").encode())
        self.status, self.headers, self._buf = _read_head(self.sock, time.monotonic() + 10)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _fill(self, n):
        while len(self._buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("stream closed")
            self._buf += chunk

    def _run(self):
        try:
            self.sock.settimeout(15)
            while not self._stop.is_set():
                self._fill(4)
                while not self._buf.startswith(b"--frame"):
                    i = self._buf.find(b"--frame")
                    if i < 0:
                        self._buf = self._buf[-8:]
                        self._fill(len(self._buf) + 16)
                    else:
                        self._buf = self._buf[i:]
                while b"\r\n\r\n" not in self._buf:
                    self._fill(len(self._buf) + 1)
                head, _, self._buf = self._buf.partition(b"\r\n\r\n")
                n = int(head.split(b"Content-Length:")[1].split(b"\r\n")[0])
                self._fill(n)
                jpeg, self._buf = self._buf[:n], self._buf[n:]
                self.times.append(time.monotonic())
                self.sizes.append(n)
                self.last = (self.last + [jpeg])[-self.keep:]
        except Exception as e:      # noqa: BLE001 - reported to the test
            if not self._stop.is_set():
                self.error = e

    @property
    def frames(self):
        return len(self.times)

    def wait_frames(self, n, timeout=20):
        deadline = time.monotonic() + timeout
        while self.frames < n:
            if self.error or time.monotonic() > deadline:
                raise AssertionError("%d of %d MJPEG frames (%r)" % (self.frames, n, self.error))
            time.sleep(0.05)

    def close(self):
        self._stop.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self._thread.join(5)
