"""Shared parts of the RTSP tests: test JPEGs, a server launcher, a raw RTSP/RTP client.

The server under test is started by a *launcher*: a callable
    launcher(frames_dir, port, **opts) -> ServerHandle
The default runs tools/rtsp_serve.py in the real MicroPython interpreter. Another launcher
(for example the full emulator, tools/sim) can be chosen with the environment variable
RTSP_TEST_LAUNCHER=module:function. It must:
- accept the same options (see OPTION_FLAGS) and serve the JPEGs of frames_dir in name order
  at `fps`, with the password PASSWORD (or `password=`) for user "admin";
- return an object with the ServerHandle interface: port, path, user, password, url(),
  lines/output()/wait_for() over the driver's stdout, alive(), stop();
- print "READY ...", "EVENT <name> <arg>" for every on_event call and "REFUSED <file> <error>"
  when send_frame raises ValueError;
- answer GET_PARAMETER for rtspd.mem / rtspd.sessions / rtspd.conns / rtspd.sockets /
  rtspd.stats (RtspServer.get_param), as rtsp_serve.py --debug does.
"""
import hashlib
import io
import importlib
import os
import random
import re
import socket
import struct
import subprocess
import threading
import time

import numpy as np
from PIL import Image, ImageDraw

from tools import mpy

HOST = "127.0.0.1"
W, H = 1280, 720
PASSWORD = "s3cret-Pa55"        # handed to the server through the environment only
DRIVER = mpy.ROOT / "tools" / "rtsp_serve.py"

# ServerHandle option -> rtsp_serve.py flag
OPTION_FLAGS = {"fps": "--fps", "path": "--path", "auth": "--auth", "user": "--user",
                "max_clients": "--max-clients", "timeout": "--timeout",
                "expire_ms": "--expire-ms", "idle_ms": "--idle-ms", "stall_ms": "--stall-ms",
                "rtp_port": "--rtp-port", "lag_ms": "--lag-ms", "frame_max": "--frame-max",
                "native": "--native"}


# -- test images --------------------------------------------------------------------------------
def pattern(i, w=W, h=H, noise=6.0, seed=0):
    """A 1280x720 RGB test picture, different for every i (moving waves, a white bar)."""
    rng = np.random.default_rng(seed * 1000 + i)
    y, x = np.mgrid[0:h, 0:w]
    r = 128 + 100 * np.sin(x / 40 + i) + rng.normal(0, noise, (h, w))
    g = 128 + 100 * np.cos(y / 30 - i * 0.7) + rng.normal(0, noise, (h, w))
    b = 128 + 100 * np.sin((x + y) / 60 + i * 1.3)
    img = Image.fromarray(np.clip(np.stack([r, g, b], -1), 0, 255).astype("uint8"))
    d = ImageDraw.Draw(img)
    d.rectangle([80 + i * 130, 100, 160 + i * 130, 600], fill=(255, 255, 255))
    return img


def encode(img, subsampling=1, quality=80, **kw):
    """JPEG bytes; subsampling 1 = 4:2:2, 2 = 4:2:0, 0 = 4:4:4. Standard Huffman tables."""
    out = io.BytesIO()
    kw.setdefault("optimize", False)
    img.save(out, "JPEG", quality=quality, subsampling=subsampling, **kw)
    return out.getvalue()


def make_frames(directory, n=8, subsampling=1, quality=80, noise=6.0):
    """Write n distinct JPEGs into directory; returns their bytes in play order."""
    os.makedirs(directory, exist_ok=True)
    out = []
    for i in range(n):
        data = encode(pattern(i, noise=noise), subsampling=subsampling, quality=quality)
        with open(os.path.join(directory, "f%03d.jpg" % i), "wb") as f:
            f.write(data)
        out.append(data)
    return out


def decode_rgb(jpeg_bytes):
    return np.asarray(Image.open(io.BytesIO(jpeg_bytes)).convert("RGB"), dtype=np.float32)


def psnr(a, b):
    mse = float(np.mean((np.asarray(a, np.float32) - np.asarray(b, np.float32)) ** 2))
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def best_match(frame, sources):
    """(index, psnr, second best psnr) of the source picture closest to a decoded frame."""
    scores = sorted(((psnr(frame, s), i) for i, s in enumerate(sources)), reverse=True)
    return scores[0][1], scores[0][0], scores[1][0] if len(scores) > 1 else 0.0


def jpeg_scan(data):
    """Entropy-coded scan of a JPEG: after the SOS header, before the final FFD9."""
    i = 2
    while i < len(data):
        if data[i] != 0xFF:
            raise ValueError("bad marker")
        m = data[i + 1]
        if m == 0xFF:
            i += 1
            continue
        seg = struct.unpack(">H", data[i + 2:i + 4])[0]
        if m == 0xDA:
            start = i + 2 + seg
            end = data.rindex(b"\xff\xd9")
            return data[start:end]
        i += 2 + seg
    raise ValueError("no SOS")


def jpeg_qtables(data):
    """{id: 64 bytes} of the DQT tables of a JPEG."""
    out = {}
    i = 2
    while i < len(data):
        m = data[i + 1]
        seg = struct.unpack(">H", data[i + 2:i + 4])[0]
        if m == 0xDB:
            j = i + 4
            while j < i + 2 + seg:
                out[data[j] & 3] = data[j + 1:j + 65]
                j += 65
        if m == 0xDA:
            break
        i += 2 + seg
    return out


# -- ports ---------------------------------------------------------------------------------------
def free_port(kind=socket.SOCK_STREAM):
    from tools.sim.board import free_port as board_free_port
    return board_free_port(kind)


def free_udp_base(span=16):
    """An even port with `span` free UDP ports from it (for the server's server_port pairs)."""
    for _ in range(50):
        base = random.randrange(20000, 32000 - span, 2)   # below the ephemeral range
        socks = []
        try:
            for p in range(base, base + span):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("0.0.0.0", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free UDP port range")


# -- the server under test -----------------------------------------------------------------------
class ServerHandle:
    """tools/rtsp_serve.py in MicroPython, with its stdout collected line by line."""

    def __init__(self, frames_dir, port, password=PASSWORD, **opts):
        self.port = port
        self.path = opts.get("path", "/stream")
        self.user = opts.get("user", "admin")
        self.password = password
        self.lines = []
        self._cv = threading.Condition()
        args = [str(frames_dir), "--port", str(port), "--debug"]
        for k, v in opts.items():
            args += [OPTION_FLAGS[k], str(v)]
        env = mpy.env([mpy.LIB, mpy.DEVICE], {"RTSP_PASSWORD": password or ""})
        env.pop("SIM_BUS", None)
        self.proc = subprocess.Popen([mpy.binary(), "-X", "heapsize=" + mpy.HEAP, str(DRIVER)] + args,
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, cwd=str(mpy.ROOT))
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self.wait_for(r"^READY", 10):
            self.stop()
            raise RuntimeError("server did not start:\n" + self.output())

    def _read(self):
        for line in self.proc.stdout:
            with self._cv:
                self.lines.append(line.rstrip("\n"))
                self._cv.notify_all()
        with self._cv:
            self._cv.notify_all()

    def output(self):
        with self._cv:
            return "\n".join(self.lines)

    def wait_for(self, regex, timeout=5.0, start=0):
        """The first stdout line from index `start` matching regex, or None after timeout."""
        rx = re.compile(regex)
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for line in self.lines[start:]:
                    if rx.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None and not self._reader.is_alive():
                    return None
                self._cv.wait(min(left, 0.2))

    def alive(self):
        return self.proc.poll() is None

    def url(self, user=None, password=None, path=None):
        auth = ""
        if user is not None:
            auth = "%s:%s@" % (user, password)
        return "rtsp://%s%s:%d%s" % (auth, HOST, self.port, path or self.path)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(3)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(3)
        self._reader.join(2)


def default_launcher(frames_dir, port, **opts):
    return ServerHandle(frames_dir, port, **opts)


def launcher():
    spec = os.environ.get("RTSP_TEST_LAUNCHER")
    if not spec:
        return default_launcher
    mod, _, fn = spec.partition(":")
    return getattr(importlib.import_module(mod), fn)


def start_server(frames_dir, **opts):
    opts.setdefault("rtp_port", free_udp_base())
    return launcher()(frames_dir, free_port(), **opts)


# -- a raw RTSP client ------------------------------------------------------------------------
class Response:
    def __init__(self, status, headers, body, pairs=()):
        self.status = status
        self.headers = headers      # lower-case name -> value (the last one if repeated)
        self.pairs = list(pairs)    # every (name, value), in order
        self.body = body

    def get_all(self, name):
        return [v for k, v in self.pairs if k == name.lower()]

    def __getitem__(self, name):
        return self.headers[name.lower()]

    def get(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.headers)


def digest_header(user, password, realm, nonce, method, uri, qop=None, cnonce="0a4f113b", nc="00000001"):
    md5 = lambda s: hashlib.md5(s.encode()).hexdigest()
    ha1 = md5("%s:%s:%s" % (user, realm, password))
    ha2 = md5("%s:%s" % (method, uri))
    if qop:
        resp = md5("%s:%s:%s:%s:%s:%s" % (ha1, nonce, nc, cnonce, qop, ha2))
        return ('Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", '
                'qop=%s, nc=%s, cnonce="%s"' % (user, realm, nonce, uri, resp, qop, nc, cnonce))
    resp = md5("%s:%s:%s" % (ha1, nonce, ha2))
    return 'Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s"' % (
        user, realm, nonce, uri, resp)


def parse_challenge(value):
    return dict(re.findall(r'(\w+)="?([^",]*)"?', value))


class RtspClient:
    """Speaks RTSP over one TCP connection; keeps interleaved packets that arrive meanwhile."""

    def __init__(self, server, timeout=5.0, user=None, password=None, qop=True):
        self.server = server
        self.base = server.url()
        self.sock = socket.create_connection((HOST, server.port), timeout=timeout)
        self.timeout = timeout
        self.buf = b""
        self.cseq = 0
        self.session = None
        self.packets = []        # (channel, payload) received while waiting for responses
        self.user = user
        self.password = password
        self.qop = qop
        self.challenge = None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self):
        """Hang up abruptly (RST instead of FIN)."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()

    def send_raw(self, data):
        self.sock.sendall(data)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no answer from the server")
        self.sock.settimeout(left)
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("server closed the connection")
        self.buf += data

    def read_message(self, timeout=None):
        """Next message: ('$', channel, payload) or ('R', Response)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            if self.buf[:1] == b"$":
                if len(self.buf) >= 4:
                    n = struct.unpack(">H", self.buf[2:4])[0]
                    if len(self.buf) >= 4 + n:
                        ch, payload = self.buf[1], self.buf[4:4 + n]
                        self.buf = self.buf[4 + n:]
                        return "$", ch, payload
            elif self.buf:
                end = self.buf.find(b"\r\n\r\n")
                if end >= 0:
                    head = self.buf[:end].decode("latin-1").split("\r\n")
                    pairs = []
                    for line in head[1:]:
                        k, _, v = line.partition(":")
                        pairs.append((k.strip().lower(), v.strip()))
                    headers = dict(pairs)
                    n = int(headers.get("content-length", "0"))
                    if len(self.buf) >= end + 4 + n:
                        body = self.buf[end + 4:end + 4 + n]
                        self.buf = self.buf[end + 4 + n:]
                        status = int(head[0].split(" ")[1])
                        return "R", Response(status, headers, body, pairs)
            self._fill(deadline)

    def read_response(self, timeout=None):
        while True:
            msg = self.read_message(timeout)
            if msg[0] == "R":
                return msg[1]
            self.packets.append((msg[1], msg[2]))

    def request(self, method, uri=None, headers=None, body=b"", auth=True):
        uri = uri or self.base
        for attempt in range(2):
            self.cseq += 1
            h = {"CSeq": str(self.cseq)}
            if self.session and method not in ("OPTIONS", "DESCRIBE", "SETUP"):
                h["Session"] = self.session
            if auth and self.user is not None and self.challenge:
                c = self.challenge
                h["Authorization"] = digest_header(self.user, self.password, c["realm"], c["nonce"],
                                                   method, uri, "auth" if self.qop else None)
            h.update(headers or {})
            lines = ["%s %s RTSP/1.0" % (method, uri)] + ["%s: %s" % kv for kv in h.items()]
            if body:
                lines.append("Content-Length: %d" % len(body))
            self.send_raw(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            r = self.read_response()
            if r.status == 401 and auth and self.user is not None and attempt == 0:
                self.challenge = parse_challenge(
                    [v for v in r.get_all("www-authenticate") if v.startswith("Digest")][0])
                continue
            if r.get("session"):
                self.session = r["session"].split(";")[0]
            return r
        return r

    # -- the usual sequence ------------------------------------------------------------------
    def setup_tcp(self):
        self.request("DESCRIBE")
        return self.request("SETUP", self.base + "/trackID=0",
                            {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})

    def setup_udp(self, rtp_sock):
        port = rtp_sock.getsockname()[1]
        self.request("DESCRIBE")
        return self.request("SETUP", self.base + "/trackID=0",
                            {"Transport": "RTP/AVP;unicast;client_port=%d-%d" % (port, port + 1)})

    def play(self):
        return self.request("PLAY", self.base + "/")

    def read_packets(self, count, timeout=10.0):
        """At least `count` interleaved (channel, payload) tuples."""
        out = self.packets
        self.packets = []
        deadline = time.monotonic() + timeout
        while len(out) < count:
            msg = self.read_message(max(0.01, deadline - time.monotonic()))
            if msg[0] == "$":
                out.append((msg[1], msg[2]))
        return out


def server_param(server, key):
    """A debug value of the server (rtsp_serve.py --debug answers GET_PARAMETER for it)."""
    c = RtspClient(server, user=server.user, password=server.password)
    try:
        r = c.request("GET_PARAMETER", body=(key + "\r\n").encode(),
                      headers={"Content-Type": "text/parameters"})
        if r.status != 200:
            raise RuntimeError("GET_PARAMETER %s: %d" % (key, r.status))
        return r.body.decode().split(":", 1)[1].strip()
    finally:
        c.close()


def wait_param(server, key, want, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        got = server_param(server, key)
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def read_to_close(sock, timeout=3.0):
    """Read until the server ends the connection: (bytes received, how) with how "fin" (a
    clean close), "reset" or "timeout" (still open after `timeout` seconds)."""
    got = b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return got, "timeout"
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return got, "timeout"
        except ConnectionResetError:
            return got, "reset"
        if not chunk:
            return got, "fin"
        got += chunk


class Target:
    """Where a server listens, for RtspClient/Viewer when there is no ServerHandle (the app
    on the emulator: appkit gives its URL)."""

    def __init__(self, url, port):
        self._url = url
        self.port = port

    def url(self):
        return self._url


# The receive buffer of a test's viewer that keeps reading. Its thread shares two cores with
# the whole parallel suite and can be late by a few hundred ms; with the kernel's default
# window (64 KB, 0.2 s of a 300 kB/s share) the emulated lwIP then holds what the PC would
# not take, which is a viewer that stopped reading (tools/sim/device/_lwip.py, _holders()).
# A real viewer's player buffers too. 1 MB (the kernel doubles it) is seconds of stream.
READER_RCVBUF = 1 << 20


class Viewer(threading.Thread):
    """A raw RTSP viewer in a thread (TCP interleaved or UDP), recording when each frame's
    last packet arrived; `stop_reading` makes it keep the connection and read nothing."""

    def __init__(self, server, transport="tcp", rcvbuf=READER_RCVBUF):
        super().__init__(daemon=True)
        self.c = RtspClient(server, timeout=10)
        # a small window: a viewer that stops reading stops taking at once; the default:
        # this thread being late on a busy PC is not a viewer that stops reading
        self.c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.transport = transport
        self.udp = None
        self.times = []
        self.stop_reading = threading.Event()
        self.done = threading.Event()
        self.error = None
        self.setup_status = None
        self.transport_reply = ""

    def setup(self):
        """DESCRIBE, SETUP and (if that gave 200) PLAY; the SETUP's status."""
        if self.transport == "udp":
            self.udp = udp_pair()
            r = self.c.setup_udp(self.udp[0])
        else:
            r = self.c.setup_tcp()
        self.setup_status = r.status
        self.transport_reply = r.get("transport", "")
        if r.status != 200:
            return r.status
        assert self.c.play().status == 200
        return 200

    def run(self):
        # little work per packet: these threads share the GIL with the emulator's host side
        try:
            while not self.done.is_set():
                if self.stop_reading.is_set():
                    time.sleep(0.02)
                    continue
                if self.udp:
                    self.udp[0].settimeout(0.5)
                    try:
                        data = self.udp[0].recv(2000)
                    except socket.timeout:
                        continue
                    if data[1] & 0x80:              # RTP marker: a frame's last packet
                        self.times.append(time.monotonic())
                    continue
                for ch, data in self.c.read_packets(1, 3):
                    if ch == 0 and data[1] & 0x80:
                        self.times.append(time.monotonic())
        except Exception as e:      # reported by the test through .error
            if not self.done.is_set():
                self.error = e

    def frames_between(self, t0, t1):
        return sum(1 for t in self.times if t0 <= t < t1)

    def fps(self, t0, t1):
        return self.frames_between(t0, t1) / (t1 - t0)

    def longest_gap(self, t0, t1):
        ts = [t0] + [t for t in self.times if t0 <= t < t1] + [t1]
        return max(b - a for a, b in zip(ts, ts[1:]))

    def close(self):
        self.done.set()
        self.c.close()
        for s in self.udp or ():
            s.close()
        if self.ident is not None:
            self.join(3)


def play(server, n, transport="tcp"):
    """n Viewers playing (SETUP 200 asserted), their threads started."""
    vs = []
    try:
        for _ in range(n):
            v = Viewer(server, transport)
            vs.append(v)
            assert v.setup() == 200, v.setup_status
            v.start()
    except BaseException:
        for v in vs:
            v.close()
        raise
    return vs


def udp_pair():
    """Two bound UDP sockets on consecutive ports (RTP even, RTCP odd)."""
    for _ in range(50):
        rtp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp.bind((HOST, 0))
        port = rtp.getsockname()[1]
        if port % 2 or port > 65000:
            rtp.close()
            continue
        rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            rtcp.bind((HOST, port + 1))
        except OSError:
            rtp.close()
            rtcp.close()
            continue
        rtp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        return rtp, rtcp
    raise RuntimeError("no UDP port pair")


# -- RTP / RFC 2435 ----------------------------------------------------------------------------
class RtpPacket:
    def __init__(self, data):
        if len(data) < 12 or data[0] >> 6 != 2:
            raise ValueError("not RTP")
        self.raw = data
        self.marker = bool(data[1] & 0x80)
        self.pt = data[1] & 0x7F
        self.seq, self.ts, self.ssrc = struct.unpack(">HII", data[2:12])
        p = data[12:]
        self.type_specific = p[0]
        self.offset = int.from_bytes(p[1:4], "big")
        self.type, self.q, self.w8, self.h8 = p[4], p[5], p[6], p[7]
        i = 8
        self.dri = None
        if 64 <= self.type < 128:
            self.dri = struct.unpack(">H", p[8:10])[0]
            self.restart_flags = p[10:12]
            i = 12
        self.qtables = None
        if self.q >= 128 and self.offset == 0:
            mbz, prec, ln = p[i], p[i + 1], struct.unpack(">H", p[i + 2:i + 4])[0]
            self.qtables = (mbz, prec, ln, p[i + 4:i + 4 + ln])
            i += 4 + ln
        self.data = p[i:]


class FrameAssembler:
    """Puts RTP/JPEG packets back into frames, checking RFC 2435 on the way."""

    def __init__(self):
        self.frames = []        # (timestamp, first packet, scan bytes, packets)
        self.broken = 0         # packets that did not continue a frame (loss, cut frame)
        self._cur = None

    def add(self, pkt):
        if pkt.offset == 0:
            self._cur = [pkt.ts, pkt, bytearray(), []]
        cur = self._cur
        if cur is None or pkt.ts != cur[0] or pkt.offset != len(cur[2]):
            self._cur = None
            self.broken += 1
            return
        cur[2] += pkt.data
        cur[3].append(pkt)
        if pkt.marker:
            self.frames.append((cur[0], cur[1], bytes(cur[2]), cur[3]))
            self._cur = None


# -- real clients ---------------------------------------------------------------------------------
def pyav_frames(url, transport, count, timeout=10.0):
    """Decode `count` frames with PyAV (ffmpeg's RTSP client); RGB arrays."""
    import av
    out = []
    deadline = time.monotonic() + timeout + 10
    opts = {"rtsp_transport": transport, "analyzeduration": "0", "probesize": "32"}
    if transport == "udp":
        # the decode below (720p to RGB) is this thread's, and a busy PC can hold it back
        # for a few frames' time: a kernel buffer for them instead of ffmpeg's 384 KB
        opts["buffer_size"] = str(4 << 20)
    with av.open(url, options=opts, timeout=timeout) as c:
        for f in c.decode(video=0):
            out.append(f.to_ndarray(format="rgb24"))
            if len(out) >= count or time.monotonic() > deadline:
                break
    return out


def check_frames_match(frames, jpegs, min_psnr=38.0):
    """Every decoded frame is one of the source pictures, in play order; returns the indices."""
    small = [decode_rgb(j)[::4, ::4] for j in jpegs]
    idx = []
    for f in frames:
        assert f.shape == (H, W, 3), f.shape
        i, _, second = best_match(f[::4, ::4], small)
        full = psnr(f, decode_rgb(jpegs[i]))
        assert full >= min_psnr, "frame differs from every source picture (%.1f dB)" % full
        assert full - second > 3, "frame matches two source pictures"
        idx.append(i)
    n = len(jpegs)
    steps = [(b - a) % n for a, b in zip(idx, idx[1:])]
    assert all(1 <= s <= n // 2 for s in steps), "frames out of order: %r" % idx
    return idx
