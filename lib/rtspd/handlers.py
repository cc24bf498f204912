# The RTSP methods (RFC 2326) as the server answers them. Each handler gets the server, the
# connection and the request, queues the response and changes session state through the
# server. Per request, never per packet: plain string handling is fine here.
import time
from rtspd.request import response, uri_path, PUBLIC
from rtspd import session as S

TRACK = "trackID=0"
_KNOWN = ("OPTIONS", "DESCRIBE", "SETUP", "PLAY", "PAUSE", "TEARDOWN",
          "GET_PARAMETER", "SET_PARAMETER")


def _ports(v):
    try:
        if "-" in v:
            a, b = v.split("-", 1)
            a, b = int(a), int(b)
        else:
            a = int(v)
            b = a + 1
    except ValueError:
        return None
    if not (0 <= a <= 65535 and 0 <= b <= 65535):
        return None
    return (a, b)


def parse_transport(value):
    """First acceptable transport of a SETUP Transport list: ("udp", (rtp, rtcp)) or
    ("tcp", (ch, ch + 1)); None if none can be served (multicast, SAVP, record...)."""
    for spec in value.split(",")[:8]:
        params = spec.strip().split(";")
        proto = params[0].strip().upper()
        if proto in ("RTP/AVP", "RTP/AVP/UDP"):
            lower = "udp"
        elif proto == "RTP/AVP/TCP":
            lower = "tcp"
        else:
            continue
        ok = True
        ports = None
        for prm in params[1:]:
            prm = prm.strip()
            eq = prm.find("=")
            key = (prm if eq < 0 else prm[:eq]).strip().lower()
            val = "" if eq < 0 else prm[eq + 1:].strip()
            if key == "multicast":
                ok = False
            elif key == "mode" and val.strip('"').upper() != "PLAY":
                ok = False
            elif key == "client_port" and lower == "udp":
                ports = _ports(val)
                ok = ok and ports is not None and ports[0] > 0
            elif key == "interleaved" and lower == "tcp":
                ports = _ports(val)
                ok = ok and ports is not None and ports[0] < 255
        if not ok:
            continue
        if lower == "udp" and ports is None:
            continue
        return lower, ports or (0, 1)
    return None


def sdp(srv, uri):
    host = uri[7:].split("/")[0].split(":")[0] if uri.startswith("rtsp://") else ""
    if not host or not all(c in "0123456789." for c in host):
        host = "0.0.0.0"
    return ("v=0\r\n"
            "o=- %d 1 IN IP4 %s\r\n"
            "s=%s\r\n"
            "c=IN IP4 0.0.0.0\r\n"
            "t=0 0\r\n"
            "a=control:*\r\n"
            "m=video 0 RTP/AVP 26\r\n"
            "a=control:%s\r\n"
            "a=rtpmap:26 JPEG/90000\r\n"
            "a=framerate:%d\r\n"
            "a=x-dimensions:%d,%d\r\n"
            % (srv._sdp_id, host, srv.realm, TRACK, srv.fps, srv.width, srv.height)).encode()


def _base(uri):
    q = uri.find("?")
    if q >= 0:
        uri = uri[:q]
    return uri.rstrip("/")


def _kind(srv, uri):
    """'*', 'agg' (the stream), 'track' (its only track) or None (another path: 404)."""
    if uri == "*":
        return "*"
    path = uri_path(uri).rstrip("/")
    if path == srv.path:
        return "agg"
    if path == srv.path + "/" + TRACK:
        return "track"
    return None


def _sess_lines(srv, s):
    if s is None:
        return []
    return ["Session: %s;timeout=%d" % (s.id, srv.session_timeout)]


def handle(srv, conn, req):
    m = req.method
    cseq = req.cseq
    if m not in _KNOWN:
        return conn.queue(response(501, cseq, ["Public: " + PUBLIC]))
    if req.get("require"):
        return conn.queue(response(551, cseq, ["Unsupported: " + req.get("require")[:100]]))
    if m != "OPTIONS" and not _authorized(srv, conn, req):
        return
    kind = _kind(srv, req.uri)
    if kind is None or (kind == "*" and m != "OPTIONS"):
        return conn.queue(response(404, cseq))
    sid = req.get("session")
    s = None
    if sid:
        s = srv._find_session(sid.split(";")[0].strip())
        if s is None:
            return conn.queue(response(454, cseq))
        s.alive()
    if conn.session is not None:
        conn.session.alive()        # any request on the session's connection is proof of life
    if m == "OPTIONS":
        lines = ["Public: " + PUBLIC]
        if s is not None:
            lines += _sess_lines(srv, s)
        return conn.queue(response(200, cseq, lines))
    if m == "DESCRIBE":
        return _describe(srv, conn, req, kind)
    if m == "SETUP":
        return _setup(srv, conn, req, s)
    if m == "GET_PARAMETER":
        return _get_parameter(srv, conn, req, s)
    if m == "SET_PARAMETER":
        return _set_parameter(srv, conn, req, s)
    if s is None:
        return conn.queue(response(454, cseq))
    if m == "PLAY":
        return _play(srv, conn, req, s)
    if m == "PAUSE":
        srv._pause(s)
        return conn.queue(response(200, cseq, _sess_lines(srv, s)))
    conn.queue(response(200, cseq))             # TEARDOWN
    return srv._end_session(s, "teardown")


def _authorized(srv, conn, req):
    verdict = srv._auth.check(conn, req.method, req.get("authorization"))
    if verdict == "ok" or (verdict == "missing" and conn.authed):
        conn.authed = True
        return True
    if verdict == "bad":
        conn.fails += 1
        srv._emit("auth_failed", conn.ip)
        srv._note("auth failed from %s" % conn.ip)
        if conn.fails >= 5:             # a guesser: answer, then hang up
            conn.closing = True
    conn.queue(response(401, req.cseq, srv._auth.challenge(conn, stale=verdict == "stale")))
    return False


def _describe(srv, conn, req, kind):
    if kind != "agg":
        return conn.queue(response(404, req.cseq))
    if srv.refuse_full(conn, req.cseq):     # a player asks for the stream: tell it now
        return
    body = sdp(srv, req.uri)
    lines = ["Content-Type: application/sdp"]
    if req.uri.startswith("rtsp://") or req.uri.startswith("rtsps://"):
        lines.append("Content-Base: %s/" % _base(req.uri))
    return conn.queue(response(200, req.cseq, lines, body))


def _setup(srv, conn, req, s):
    cseq = req.cseq
    if _kind(srv, req.uri) not in ("agg", "track"):
        return conn.queue(response(404, cseq))
    if s is not None or conn.session is not None:
        # one track, one session per connection: a second SETUP changes nothing we support
        return conn.queue(response(459 if s is None else 455, cseq))
    if srv.refuse_full(conn, cseq):         # no DESCRIBE first, or the last place went meanwhile
        return
    t = parse_transport(req.get("transport"))
    if t is None:
        return conn.queue(response(461, cseq))
    s, err = srv._new_session(conn, t[0], t[1])
    if s is None:
        return conn.queue(response(err, cseq))
    if s.tcp:
        tr = "RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=%08X" % srv._ssrc
    else:
        tr = "RTP/AVP;unicast;client_port=%d-%d;server_port=%d-%d;ssrc=%08X" % (
            s.cports[0], s.cports[1], s.sport, s.sport + 1, srv._ssrc)
    return conn.queue(response(200, cseq, ["Transport: " + tr] + _sess_lines(srv, s)))


def _play(srv, conn, req, s):
    if _kind(srv, req.uri) not in ("agg", "track"):
        return conn.queue(response(404, req.cseq))
    seq, rtptime = srv._play(s)
    url = _base(req.uri)
    if not url.endswith("/" + TRACK):
        url += "/" + TRACK
    lines = _sess_lines(srv, s) + ["Range: npt=0.000-",
                                   "RTP-Info: url=%s;seq=%d;rtptime=%d" % (url, seq, rtptime)]
    conn.queue(response(200, req.cseq, lines))
    srv._send_sr(s, time.ticks_ms())     # the first sender report right after PLAY


def _lines(body):
    try:
        text = body.decode()
    except Exception:
        return None
    return [ln.strip() for ln in text.split("\n") if ln.strip()][:16]


def _get_parameter(srv, conn, req, s):
    keys = _lines(req.body)
    if not keys:
        return conn.queue(response(200, req.cseq, _sess_lines(srv, s)))   # keepalive
    out = []
    for key in keys:
        val = srv.get_param(key) if srv.get_param else None
        if val is None:
            return conn.queue(response(451, req.cseq, _sess_lines(srv, s)))
        out.append("%s: %s\r\n" % (key, val))
    return conn.queue(response(200, req.cseq, _sess_lines(srv, s) + ["Content-Type: text/parameters"],
                               "".join(out).encode()))


def _set_parameter(srv, conn, req, s):
    lines = _lines(req.body)
    if lines is None:
        return conn.queue(response(451, req.cseq, _sess_lines(srv, s)))
    pairs = []
    for ln in lines:
        colon = ln.find(":")
        if colon <= 0:
            return conn.queue(response(451, req.cseq, _sess_lines(srv, s)))
        pairs.append((ln[:colon].strip(), ln[colon + 1:].strip()))
    conn.queue(response(200, req.cseq, _sess_lines(srv, s)))
    for kv in pairs:
        srv._emit("set_parameter", kv)
