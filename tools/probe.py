"""python -m tools.probe URL: connect to an RTSP camera and report what a stream looks like.

Plays the stream for a few seconds (or a number of frames) and reports the negotiated
transport, frame rate, bitrate, frame size, RTP/JPEG type and Q, lost packets and frames,
the time from PLAY to the first complete frame, and how far the camera's clock is from this
PC's (from the NTP time in its RTCP sender reports). Human-readable by default, --json for
scripts. Explains what went wrong when no camera answers, the password is wrong, the port
is not an RTSP server, the path does not exist or the transport is refused.

The RTSP/RTP client is written here (sockets, Digest and Basic auth, TCP-interleaved and
UDP), so what it reports is what the camera sent, not what a player made of it.
"""
import argparse
import base64
import hashlib
import json
import os
import random
import select
import socket
import struct
import sys
import time
from dataclasses import asdict, dataclass, field
from urllib.parse import unquote, urlsplit

NTP_EPOCH = 2208988800          # seconds from 1900 (NTP) to 1970 (Unix)
MAX_HEADER = 64 * 1024          # bounds on what a server may send us
MAX_BODY = 1024 * 1024
USER_AGENT = "omv-ipcam-probe/1"
KEEPALIVE_S = 20.0


class ProbeError(Exception):
    """What went wrong, said so that a user knows what to check."""


# -- URL and authentication -----------------------------------------------------------------
@dataclass
class Target:
    url: str                    # without credentials: the request URL
    host: str
    port: int
    user: str = ""
    password: str = ""


def parse_url(url, user=None, password=None):
    u = urlsplit(url)
    if u.scheme != "rtsp" or not u.hostname:
        raise ProbeError("not an rtsp:// URL: %r (example: rtsp://192.168.1.50:554/stream)" % url)
    port = u.port or 554
    clean = "rtsp://%s:%d%s" % (u.hostname, port, u.path or "/")
    if u.query:
        clean += "?" + u.query
    return Target(clean, u.hostname, port, user if user is not None else unquote(u.username or ""),
                  password if password is not None else unquote(u.password or ""))


def _challenges(headers):
    """[(scheme, {param: value})] from every WWW-Authenticate header."""
    out = []
    for value in headers.get_all("www-authenticate"):
        scheme, _, rest = value.strip().partition(" ")
        params = {}
        for part in _split_params(rest):
            k, _, v = part.partition("=")
            params[k.strip().lower()] = v.strip().strip('"')
        out.append((scheme.lower(), params))
    return out


def _split_params(text):
    parts, cur, quoted = [], "", False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


class Auth:
    """Answers a 401 challenge: Digest (MD5, MD5-sess, qop=auth or none) or Basic."""

    def __init__(self, target, challenges):
        self.t = target
        digest = [p for s, p in challenges if s == "digest"]
        basic = [p for s, p in challenges if s == "basic"]
        if digest:
            self.scheme, self.p = "digest", digest[-1]
            algo = self.p.get("algorithm", "MD5").upper()
            if algo not in ("MD5", "MD5-SESS"):
                raise ProbeError("the server asks for Digest %s, which this probe does not "
                                 "speak (MD5 only)" % algo)
        elif basic:
            self.scheme, self.p = "basic", basic[-1]
        else:
            raise ProbeError("the server wants an authentication scheme this probe does not "
                             "know: %s" % ", ".join(s for s, _ in challenges) or "none given")
        self.nc = 0
        self.cnonce = "%016x" % random.getrandbits(64)

    def header(self, method, uri):
        t = self.t
        if self.scheme == "basic":
            return "Basic " + base64.b64encode(("%s:%s" % (t.user, t.password)).encode()).decode()
        p = self.p
        md5 = lambda s: hashlib.md5(s.encode()).hexdigest()   # noqa: E731 (RFC 2617 H())
        ha1 = md5("%s:%s:%s" % (t.user, p.get("realm", ""), t.password))
        if p.get("algorithm", "").upper() == "MD5-SESS":
            ha1 = md5("%s:%s:%s" % (ha1, p["nonce"], self.cnonce))
        ha2 = md5("%s:%s" % (method, uri))
        qop = "auth" if "auth" in [q.strip() for q in p.get("qop", "").split(",")] else None
        fields = {"username": t.user, "realm": p.get("realm", ""), "nonce": p.get("nonce", ""),
                  "uri": uri}
        if qop:
            self.nc += 1
            nc = "%08x" % self.nc
            fields["response"] = md5(":".join((ha1, p.get("nonce", ""), nc, self.cnonce, qop,
                                               ha2)))
            extra = ", qop=%s, nc=%s, cnonce=\"%s\"" % (qop, nc, self.cnonce)
        else:
            fields["response"] = md5("%s:%s:%s" % (ha1, p.get("nonce", ""), ha2))
            extra = ""
        if "opaque" in p:
            fields["opaque"] = p["opaque"]
        if "algorithm" in p:
            extra += ", algorithm=%s" % p["algorithm"]
        return "Digest " + ", ".join('%s="%s"' % kv for kv in fields.items()) + extra


# -- RTSP over one TCP connection -----------------------------------------------------------
class Headers:
    def __init__(self):
        self.items = []

    def add(self, k, v):
        self.items.append((k.lower(), v))

    def get(self, k, default=None):
        k = k.lower()
        for name, v in self.items:
            if name == k:
                return v
        return default

    def get_all(self, k):
        return [v for name, v in self.items if name == k.lower()]


@dataclass
class Response:
    status: int
    reason: str
    headers: Headers
    body: bytes


class Connection:
    def __init__(self, target, timeout):
        self.t = target
        self.timeout = timeout
        self.cseq = 0
        self.auth = None
        self.session = None
        self.buf = bytearray()
        self.on_data = None          # callback(channel, payload) for interleaved packets
        self.sock = self._connect()

    def _connect(self):
        t = self.t
        where = "%s:%d" % (t.host, t.port)
        try:
            infos = socket.getaddrinfo(t.host, t.port, type=socket.SOCK_STREAM)
        except socket.gaierror:
            raise ProbeError("cannot resolve host %r: check the camera's address" % t.host) \
                from None
        try:
            return socket.create_connection(infos[0][4][:2], timeout=self.timeout)
        except ConnectionRefusedError:
            raise ProbeError("no RTSP server at %s (connection refused): is the camera on and "
                             "its stream enabled? is the port right?" % where) from None
        except (socket.timeout, TimeoutError):
            raise ProbeError("no answer from %s within %.0f s: the camera is off or on another "
                             "network, the address is wrong, or a firewall drops the traffic"
                             % (where, self.timeout)) from None
        except OSError as e:
            raise ProbeError("cannot reach %s: %s" % (where, e.strerror or e)) from None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # -- reading ------------------------------------------------------------------------
    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout()
        self.sock.settimeout(left)
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionResetError("closed")
        self.buf += data

    def _take(self, n, deadline):
        while len(self.buf) < n:
            self._fill(deadline)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def read_item(self, deadline):
        """The next interleaved packet (channel, payload) or RTSP response."""
        while not self.buf:
            self._fill(deadline)
        if self.buf[0] == 0x24:                       # '$' channel length
            while len(self.buf) < 4:
                self._fill(deadline)
            # header and payload taken together: a timeout between them (a camera stalled
            # mid-packet) must not lose the header and read the payload as the next item
            packet = self._take(4 + struct.unpack_from(">H", self.buf, 2)[0], deadline)
            return packet[1], packet[4:]
        return self._read_response(deadline)

    def _read_response(self, deadline):
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > MAX_HEADER:
                raise ProbeError("the server sent an over-long RTSP header")
            self._fill(deadline)
        end = self.buf.index(b"\r\n\r\n")
        head = bytes(self.buf[:end]).decode("utf-8", "replace").split("\r\n")
        del self.buf[:end + 4]
        first = head[0].split(" ", 2)
        if not first[0].startswith("RTSP/") or len(first) < 2 or not first[1].isdigit():
            raise NotRtsp(head[0])
        h = Headers()
        for line in head[1:]:
            k, _, v = line.partition(":")
            h.add(k.strip(), v.strip())
        n = int(h.get("content-length", "0") or 0)
        if n > MAX_BODY:
            raise ProbeError("the server sent an over-long RTSP body (%d bytes)" % n)
        body = self._take(n, deadline) if n else b""
        return Response(int(first[1]), first[2] if len(first) > 2 else "", h, body)

    # -- requests -----------------------------------------------------------------------
    def request(self, method, url, headers=None, deadline=None, body=b""):
        """Send a request and return its response (answering one 401 with credentials)."""
        deadline = deadline or time.monotonic() + self.timeout
        for attempt in range(2):
            self._send(method, url, headers, body)
            r = self._response(deadline)
            if r.status != 401:
                return r
            if attempt:
                break
            if not (self.t.user or self.t.password):
                raise ProbeError("the camera wants a user name and password (401): give them "
                                 "with --user and --password-env VAR (or in the URL)")
            self.auth = Auth(self.t, _challenges(r.headers))
        raise ProbeError("wrong user name or password (401 Unauthorized from the camera)")

    def _send(self, method, url, headers, body=b""):
        self.cseq += 1
        lines = ["%s %s RTSP/1.0" % (method, url), "CSeq: %d" % self.cseq,
                 "User-Agent: " + USER_AGENT]
        if self.session:
            lines.append("Session: " + self.session)
        if self.auth:
            lines.append("Authorization: " + self.auth.header(method, url))
        for k, v in (headers or {}).items():
            lines.append("%s: %s" % (k, v))
        if body:
            lines.append("Content-Length: %d" % len(body))
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)

    def _response(self, deadline):
        where = "%s:%d" % (self.t.host, self.t.port)
        try:
            while True:
                item = self.read_item(deadline)
                if isinstance(item, Response):
                    if item.headers.get("cseq") in (None, str(self.cseq)):
                        return item
                elif self.on_data:
                    self.on_data(*item)
        except NotRtsp as e:
            raise ProbeError("%s is not an RTSP server: it answered %r (is this the camera's "
                             "RTSP port?)" % (where, e.args[0][:60])) from None
        except (socket.timeout, TimeoutError):
            raise ProbeError("%s accepted the connection but sent no RTSP answer within %.0f s "
                             "(not an RTSP server, or a busy camera)" % (where, self.timeout)) \
                from None
        except (ConnectionResetError, BrokenPipeError):
            raise ProbeError("%s closed the connection without an RTSP answer (not an RTSP "
                             "server, or the camera refused another viewer)" % where) from None


class NotRtsp(Exception):
    pass


class StreamEnded(Exception):
    pass


def _check(r, what):
    if r.status == 200:
        return r
    hints = {404: "no stream at this path: check the URL's path (e.g. /stream)",
             454: "the session was lost",
             453: "the camera has no capacity for another viewer",
             461: "the camera refused this transport: try --transport tcp (or udp)",
             503: "the camera is busy: too many viewers?"}
    raise ProbeError("%s failed: %d %s%s" % (what, r.status, r.reason,
                                             " (" + hints[r.status] + ")" if r.status in hints
                                             else ""))


# -- SDP ----------------------------------------------------------------------------------
def parse_sdp(text, base):
    """(control URL of the first video track, {rtpmap, framerate, dimensions})."""
    info, control, in_video = {}, None, False
    session_control = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("m="):
            in_video = line.startswith("m=video")
            if in_video:
                info["payload_types"] = line.split()[3:]
        elif line.startswith("a=control:"):
            if in_video:
                control = line[10:]
            elif "payload_types" not in info:
                session_control = line[10:]
        elif in_video and line.startswith("a=rtpmap:"):
            info["rtpmap"] = line[9:].split(" ", 1)[-1]
        elif in_video and line.startswith("a=framerate:"):
            info["framerate"] = float(line[12:])
        elif in_video and line.startswith("a=x-dimensions:"):
            w, _, h = line[15:].partition(",")
            info["dimensions"] = [int(w), int(h)]
    if "payload_types" not in info:
        raise ProbeError("the camera's SDP has no video track")
    return _join(base, control or session_control or ""), info


def _join(base, control):
    if control.startswith("rtsp://"):
        return control
    if control in ("", "*"):
        return base
    return base.rstrip("/") + "/" + control


# -- RTP / RTCP ---------------------------------------------------------------------------
@dataclass
class Stats:
    transport: str = ""
    server_transport: str = ""
    auth: str = "none"
    sdp: dict = field(default_factory=dict)
    packets: int = 0
    packets_lost: int = 0
    packets_reordered: int = 0
    payload_bytes: int = 0
    jpeg_bytes: int = 0             # entropy-coded JPEG data of the complete frames
    avg_frame_kb: float = 0.0
    frames: int = 0
    frames_lost: int = 0
    jpeg_types: list = field(default_factory=list)
    q_values: list = field(default_factory=list)
    quality: int = None             # the camera's JPEG quality now (GET_PARAMETER "quality")
    quality_tables: list = None     # [lowest, highest] quality the frames' tables show (IJG scale)
    width: int = 0
    height: int = 0
    play_to_first_packet_ms: float = None
    play_to_first_frame_ms: float = None
    duration_s: float = 0.0
    fps: float = 0.0
    fps_rtp: float = 0.0
    bitrate_kbps: float = 0.0
    sender_reports: int = 0
    clock_offset_s: float = None
    ssrc: str = ""
    ended_by_camera: bool = False


class Receiver:
    """Counts RTP/JPEG packets and frames and reads RTCP sender reports."""

    def __init__(self, t_play):
        self.s = Stats()
        self.t_play = t_play
        self.seq = None
        self.cur = None               # (timestamp, [(offset, length)], has marker)
        self.first_pkt = self.last_pkt = None
        self.frame_times = []
        self.frame_ts = []
        self.offsets = []

    def rtp(self, data, now):
        if len(data) < 12 or data[0] >> 6 != 2:
            return
        b1 = data[1]
        seq, ts, ssrc = struct.unpack_from(">HII", data, 2)
        hlen = 12 + 4 * (data[0] & 0x0F)
        if data[0] & 0x10 and len(data) >= hlen + 4:               # header extension
            hlen += 4 + 4 * struct.unpack_from(">H", data, hlen + 2)[0]
        end = len(data) - (data[-1] if data[0] & 0x20 else 0)     # padding
        if end < hlen + 8:
            return
        self.s.ssrc = "%08x" % ssrc
        self._sequence(seq)
        self.s.packets += 1
        self.s.payload_bytes += end - hlen
        self.first_pkt = self.first_pkt or now
        self.last_pkt = now
        if self.s.play_to_first_packet_ms is None:
            self.s.play_to_first_packet_ms = round((now - self.t_play) * 1000, 1)
        self._jpeg(data[hlen:end], ts, bool(b1 & 0x80), now)

    def _sequence(self, seq):
        if self.seq is not None:
            gap = (seq - self.seq) & 0xFFFF
            if gap == 0 or gap > 0x8000:
                self.s.packets_reordered += 1
                return
            self.s.packets_lost += gap - 1
        self.seq = seq

    def _jpeg(self, p, ts, marker, now):
        off = int.from_bytes(p[1:4], "big")
        jtype, q, w, h = p[4], p[5], p[6] * 8, p[7] * 8
        n = 8 + (4 if 64 <= jtype <= 127 else 0)
        if q >= 128 and off == 0 and len(p) >= n + 4:
            qlen = struct.unpack_from(">H", p, n + 2)[0]
            if p[n + 1] & 1 == 0 and qlen >= 64 and len(p) >= n + 4 + 64:   # 8-bit tables
                self._tables(p[n + 4:n + 4 + 64])
            n += 4 + qlen
        elif q < 128 and off == 0:
            self._tables(None, q)
        if jtype not in self.s.jpeg_types:
            self.s.jpeg_types.append(jtype)
        if q not in self.s.q_values:
            self.s.q_values.append(q)
        self.s.width, self.s.height = w, h
        if self.cur is None or self.cur[0] != ts:
            self._end_frame()
            self.cur = (ts, [], [False])
        self.cur[1].append((off, max(0, len(p) - n)))
        if marker:
            self.cur[2][0] = True
            self._end_frame(now)

    def _tables(self, luma, q=None):
        """The quality a frame's luminance table says (RFC 2435 Q 1..99 is the quality)."""
        est = q if q is not None else quality_of_table(luma)
        r = self.s.quality_tables
        self.s.quality_tables = [min(r[0], est), max(r[1], est)] if r else [est, est]

    def _end_frame(self, now=None):
        """Close the frame being assembled: complete if its fragments tile 0..end."""
        if self.cur is None:
            return
        ts, frags, marker = self.cur
        self.cur = None
        pos, ok = 0, marker[0]
        for off, n in sorted(frags):
            if off != pos:
                ok = False
                break
            pos += n
        if not ok or now is None:
            self.s.frames_lost += 1
            return
        self.s.frames += 1
        self.s.jpeg_bytes += pos
        self.frame_times.append(now)
        self.frame_ts.append(ts)
        if self.s.play_to_first_frame_ms is None:
            self.s.play_to_first_frame_ms = round((now - self.t_play) * 1000, 1)

    def rtcp(self, data, now_wall):
        i = 0
        while i + 4 <= len(data):
            pt = data[i + 1]
            length = (struct.unpack_from(">H", data, i + 2)[0] + 1) * 4
            if pt == 200 and i + 28 <= len(data):           # sender report
                sec, frac = struct.unpack_from(">II", data, i + 8)
                camera = sec - NTP_EPOCH + frac / 2 ** 32
                self.s.sender_reports += 1
                self.offsets.append(camera - now_wall)
            i += length

    def finish(self):
        s = self.s
        if self.cur is not None:                 # a frame cut off by the end of the probe
            self.cur = None
        if self.first_pkt is not None:
            s.duration_s = round(self.last_pkt - self.first_pkt, 3)
        if len(self.frame_times) > 1:
            span = self.frame_times[-1] - self.frame_times[0]
            s.fps = round((len(self.frame_times) - 1) / span, 2) if span > 0 else 0.0
            ts_span = ((self.frame_ts[-1] - self.frame_ts[0]) & 0xFFFFFFFF) / 90000
            s.fps_rtp = round((len(self.frame_ts) - 1) / ts_span, 2) if ts_span > 0 else 0.0
        if s.frames:
            s.avg_frame_kb = round(s.jpeg_bytes / s.frames / 1024, 1)
        if s.duration_s > 0:
            s.bitrate_kbps = round(s.payload_bytes * 8 / s.duration_s / 1000, 1)
        if self.offsets:
            s.clock_offset_s = round(sorted(self.offsets)[len(self.offsets) // 2], 3)
        return s


# -- the session ----------------------------------------------------------------------------
def _udp_pair():
    """Two UDP sockets on an even/odd port pair (RTP, RTCP), as RFC 3550 asks."""
    for _ in range(100):
        base = random.randrange(30000, 60000, 2)
        rtp, rtcp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM), \
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            rtp.bind(("0.0.0.0", base))
            rtcp.bind(("0.0.0.0", base + 1))
            return rtp, rtcp
        except OSError:
            rtp.close()
            rtcp.close()
    raise ProbeError("no free UDP port pair on this PC")


def probe(url, transport="tcp", duration=5.0, frames=0, timeout=5.0, user=None, password=None):
    """Play url and return Stats (raises ProbeError with a message for a user)."""
    target = parse_url(url, user, password)
    conn = Connection(target, timeout)
    udp = None
    try:
        opts = conn.request("OPTIONS", target.url)
        if opts.status not in (200, 401, 404, 501):
            _check(opts, "OPTIONS")
        desc = _check(conn.request("DESCRIBE", target.url, {"Accept": "application/sdp"}),
                      "DESCRIBE")
        base = desc.headers.get("content-base") or desc.headers.get("content-location") or \
            target.url
        track, sdp = parse_sdp(desc.body.decode("utf-8", "replace"), base)
        if transport == "udp":
            udp = _udp_pair()
            ports = (udp[0].getsockname()[1], udp[1].getsockname()[1])
            want = "RTP/AVP;unicast;client_port=%d-%d" % ports
        else:
            want = "RTP/AVP/TCP;unicast;interleaved=0-1"
        setup = _check(conn.request("SETUP", track, {"Transport": want}), "SETUP")
        got = setup.headers.get("transport", "")
        session = setup.headers.get("session") or ""
        conn.session = session.split(";")[0].strip() or None
        rx = stream(conn, base, udp, got, duration, frames, timeout, _keepalive(session))
        s = rx.s
        s.transport = "TCP interleaved" if transport == "tcp" else "UDP unicast"
        s.server_transport = got
        s.auth = conn.auth.scheme if conn.auth else "none"
        s.sdp = sdp
        return s
    except OSError as e:
        raise ProbeError("the connection to %s:%d failed: %s"
                         % (target.host, target.port, e.strerror or e)) from None
    finally:
        if udp:
            for sock in udp:
                sock.close()
        conn.close()


def _keepalive(session):
    """Seconds between keepalives: half the session timeout the server announced."""
    for part in session.split(";")[1:]:
        k, _, v = part.strip().partition("=")
        if k.lower() == "timeout" and v.strip().isdigit():
            return max(1.0, min(KEEPALIVE_S, int(v) / 2))
    return KEEPALIVE_S


def stream(conn, url, udp, server_transport, duration, frames, timeout, keepalive=KEEPALIVE_S):
    channels = (0, 1)
    for part in server_transport.split(";"):
        if part.startswith("interleaved="):
            a, _, b = part[12:].partition("-")
            channels = (int(a), int(b or int(a) + 1))
    t_play = time.monotonic()
    rx = Receiver(t_play)

    def on_data(channel, payload):
        if channel == channels[0]:
            rx.rtp(payload, time.monotonic())
        elif channel == channels[1]:
            rx.rtcp(payload, time.time())

    conn.on_data = on_data
    _check(conn.request("PLAY", url, {"Range": "npt=0.000-"}), "PLAY")
    end = time.monotonic() + duration
    first_deadline = t_play + timeout
    alive_at = t_play + keepalive
    while time.monotonic() < end and not (frames and rx.s.frames >= frames):
        now = time.monotonic()
        if now > alive_at:                       # or the server ends the session
            conn._send("GET_PARAMETER", url, None)
            alive_at += keepalive
        if rx.last_pkt and now - rx.last_pkt > timeout:
            rx.s.ended_by_camera = True          # the stream stopped (stalled or expired)
            break
        if rx.s.frames == 0 and time.monotonic() > first_deadline:
            raise ProbeError("PLAY was accepted but no complete video frame arrived within "
                             "%.0f s%s" % (timeout, " (UDP: a firewall on this PC may drop "
                                           "the packets; try --transport tcp)" if udp else ""))
        try:
            _pump(conn, udp, on_data, min(end, time.monotonic() + 0.5))
        except StreamEnded:
            if udp:
                _drain(udp, on_data)
            if not rx.s.frames:
                raise ProbeError("the camera closed the connection before sending a complete "
                                 "frame") from None
            rx.s.ended_by_camera = True
            rx.finish()
            return rx
    rx.s.quality = ask_quality(conn, url)
    try:
        conn.request("TEARDOWN", url, deadline=time.monotonic() + 1.0)
    except ProbeError:
        pass                         # the report does not depend on the goodbye
    rx.finish()
    return rx


def ask_quality(conn, url):
    """The camera's JPEG quality now (GET_PARAMETER "quality"; None if it does not say)."""
    try:
        r = conn.request("GET_PARAMETER", url, {"Content-Type": "text/parameters"},
                         deadline=time.monotonic() + 2.0, body=b"quality\r\n")
    except ProbeError:
        return None
    for line in r.body.decode("utf-8", "replace").splitlines() if r.status == 200 else ():
        k, _, v = line.partition(":")
        if k.strip() == "quality" and v.strip().isdigit():
            return int(v)
    return None


# JPEG Annex K luminance table (the IJG encoder's base, scaled by its quality setting)
_STD_LUMA = (16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
             14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
             18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
             49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99)


def _ijg_sum(q):
    scale = 5000 // q if q < 50 else 200 - 2 * q
    return sum(min(255, max(1, (v * scale + 50) // 100)) for v in _STD_LUMA)


_IJG_SUMS = [(q, _ijg_sum(q)) for q in range(1, 101)]


def quality_of_table(luma):
    """The IJG quality whose luminance table is closest to this one (by the sum of its 64
    entries, which the order of the entries does not change): an estimate for other encoders."""
    total = sum(luma)
    return min(_IJG_SUMS, key=lambda e: abs(e[1] - total))[0]


def _pump(conn, udp, on_data, until):
    """Receive whatever arrives until `until` (RTSP/interleaved and, with UDP, RTP/RTCP)."""
    socks = [conn.sock] + (list(udp) if udp else [])
    left = until - time.monotonic()
    if left <= 0:
        return
    if not conn.buf:
        ready, _, _ = select.select(socks, [], [], left)
    else:
        ready = [conn.sock]
    for s in ready:
        if s is conn.sock:
            try:
                item = conn.read_item(time.monotonic() + 2.0)
            except (socket.timeout, TimeoutError):
                continue
            except (ConnectionResetError, BrokenPipeError):
                raise StreamEnded() from None
            except NotRtsp:
                raise ProbeError("the camera sent something that is neither RTSP nor "
                                 "interleaved RTP") from None
            if not isinstance(item, Response):
                on_data(*item)
        elif s is udp[0]:
            on_data(0, s.recv(65536))
        else:
            on_data(1, s.recv(65536))


def _drain(udp, on_data, quiet=0.1, most=1.0):
    """After the camera closed the RTSP connection: what its UDP packets still bring (the
    last frame's can come after the close, or wait behind it in this PC's queues)."""
    end = time.monotonic() + most
    while time.monotonic() < end:
        ready, _, _ = select.select(list(udp), [], [], quiet)
        if not ready:
            return
        for s in ready:
            on_data(0 if s is udp[0] else 1, s.recv(65536))


# -- output ---------------------------------------------------------------------------------
CLOCK_HINT = ("\n    the camera's clock is not set: it could not reach an NTP server "
              "(see time.ntp_servers in config.json)")
JPEG_TYPES = {0: "4:2:2", 1: "4:2:0", 64: "4:2:2 + restart markers",
              65: "4:2:0 + restart markers"}


def report(url, s):
    lines = ["stream: " + parse_url(url, "", "").url]
    lines.append("  transport: %s (server: %s)" % (s.transport, s.server_transport or "?"))
    lines.append("  auth: " + s.auth)
    types = ", ".join("%d (%s)" % (t, JPEG_TYPES.get(t, "?")) for t in s.jpeg_types) or "?"
    qs = ", ".join(str(q) + (" (tables in band)" if q >= 128 else "") for q in s.q_values)
    lines.append("  video: JPEG %dx%d, RTP/JPEG type %s, Q %s" % (s.width, s.height, types,
                                                                  qs or "?"))
    if s.quality is not None or s.quality_tables:
        lo_hi = s.quality_tables
        tables = ("; the frames' tables say %s" % (lo_hi[0] if lo_hi[0] == lo_hi[1] else
                                                   "%d..%d" % tuple(lo_hi))) if lo_hi else ""
        lines.append("  quality: %s%s" % ("%d (the camera's setting now)" % s.quality
                                          if s.quality is not None else "?", tables))
    lines.append("  frames: %d complete in %.2f s, %.2f fps (RTP clock: %.2f fps), %d lost"
                 % (s.frames, s.duration_s, s.fps, s.fps_rtp, s.frames_lost))
    lines.append("  packets: %d received, %d lost, %d out of order"
                 % (s.packets, s.packets_lost, s.packets_reordered))
    lines.append("  bitrate: %.2f Mbit/s (RTP payload); %.1f kB per frame (JPEG data)"
                 % (s.bitrate_kbps / 1000, s.avg_frame_kb))
    lines.append("  PLAY to first frame: %s ms (first packet: %s ms)"
                 % (s.play_to_first_frame_ms, s.play_to_first_packet_ms))
    if s.clock_offset_s is None:
        lines.append("  camera clock: no RTCP sender report received")
    else:
        lines.append("  camera clock: %+.3f s %s this PC (from %d RTCP sender reports)%s"
                     % (s.clock_offset_s, "ahead of" if s.clock_offset_s >= 0 else "behind",
                        s.sender_reports, CLOCK_HINT if abs(s.clock_offset_s) > 3600 else ""))
    if s.ended_by_camera:
        lines.append("  note: the stream stopped before the probe did (the camera closed it, "
                     "or sent nothing for --timeout seconds)")
    return "\n".join(lines)


def parse_args(argv=None):
    from tools.deploy import Parser      # never repeats an unknown argument (a password?)
    p = Parser(prog="python -m tools.probe", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    p.add_argument("url", help="rtsp://[user@]host[:port]/path (the camera prints it at start)")
    p.add_argument("--transport", choices=("tcp", "udp"), default="tcp",
                   help="RTP over the RTSP connection (tcp, default) or UDP")
    p.add_argument("--duration", type=float, default=5.0, help="seconds to play (default 5)")
    p.add_argument("--frames", type=int, default=0, help="stop after this many frames")
    p.add_argument("--timeout", type=float, default=5.0,
                   help="seconds to wait for the camera at each step (default 5)")
    p.add_argument("--user", help="user name (or put it in the URL)")
    p.add_argument("--password-env", metavar="VAR",
                   help="take the password from environment variable VAR (safer than the URL)")
    p.add_argument("--json", action="store_true", help="print the figures as JSON")
    p.add_argument("--snapshot", action="store_true",
                   help="instead of playing, ask the camera to save a still image on its card "
                   "(RTSP SET_PARAMETER 'snapshot: 1')")
    return p.parse_args(argv)


def request_still(url, timeout=5.0, user=None, password=None):
    """Ask the camera to save a still (SET_PARAMETER snapshot: 1). Raises ProbeError."""
    target = parse_url(url, user, password)
    conn = Connection(target, timeout)
    try:
        _check(conn.request("SET_PARAMETER", target.url, {"Content-Type": "text/parameters"},
                            body=b"snapshot: 1\r\n"), "SET_PARAMETER")
    except OSError as e:
        raise ProbeError("the connection to %s:%d failed: %s"
                         % (target.host, target.port, e.strerror or e)) from None
    finally:
        conn.close()


def main(argv=None):
    a = parse_args(argv)
    password = None
    if a.password_env:
        if a.password_env not in os.environ:
            print("probe: error: environment variable %s is not set" % a.password_env,
                  file=sys.stderr)
            return 2
        password = os.environ[a.password_env]
    try:
        if a.snapshot:
            request_still(a.url, a.timeout, a.user, password)
            print("the camera was asked to save a still image")
            return 0
        s = probe(a.url, a.transport, a.duration, a.frames, a.timeout, a.user, password)
    except ProbeError as e:
        if a.json:
            print(json.dumps({"ok": False, "error": str(e)}))
        print("probe: error: %s" % e, file=sys.stderr)
        return 1
    if a.json:
        print(json.dumps(dict(asdict(s), ok=True), indent=2))
    else:
        print(report(a.url, s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
