# What each URL does. Per request (never per frame or chunk): plain strings are fine here.
#
#   GET  /                 the page (index.html, gzip-compressed when the client takes it)
#   GET  /snapshot.jpg     a JPEG at most one frame period old (a capture if nobody streams)
#   GET  /stream.mjpg      multipart/x-mixed-replace MJPEG of the live frames
#   GET  /status.json      the camera's state
#   POST /still            save a still (as RTSP SET_PARAMETER snapshot does)
#   GET  /stills/          the stills, newest first, paged (HTML; JSON with ?format=json or
#                          Accept: application/json); ?page=N (from 0) &per=M (1-100)
#   GET  /stills/<day>/<name>.jpg   one still, streamed from the drive, Range honoured
#   DELETE /stills/<day>/<name>.jpg
# Every URL needs the RTSP user and password (unless rtsp.auth is "none"), checked before
# anything else: a wrong password gets 401 whatever the URL.
import gc
import json
import os
import time
from webd import conn as C
from webd import request as R
from webd import stills as S

_NOSTORE = "Cache-Control: no-store\r\n"
_ROUTES = {
    "/": ("GET", "HEAD"), "/index.html": ("GET", "HEAD"),
    "/snapshot.jpg": ("GET",), "/stream.mjpg": ("GET",), "/status.json": ("GET", "HEAD"),
    "/still": ("POST",), "/stills": ("GET", "HEAD"), "/stills/": ("GET", "HEAD"),
}
_STILL = ("GET", "HEAD", "DELETE")
PER_PAGE = 24
_GC_MS = 2000
_gc_t = [None]


def error(srv, c, code, text=None, allow=None):
    """A short error answer; the connection lingers a moment, then closes."""
    body = ("%d %s\n" % (code, text or R.REASONS.get(code, "Error"))).encode()
    extra = ""
    if code == 401:
        extra = "".join(line + "\r\n" for line in srv.auth.challenge(srv.nonce, stale=text == "stale"))
    elif code == 405 and allow:
        extra = "Allow: %s\r\n" % ", ".join(allow)
    elif code == 503:
        extra = "Retry-After: 1\r\n"
    c.close_file()
    respond(c, code, "text/plain", len(body), extra + _NOSTORE)
    c.body_buf(body, 0, len(body))
    c.linger = True
    srv.n["errors"] += 1


def respond(c, code, ctype, length, extra=""):
    c.head("%sContent-Type: %s\r\nContent-Length: %d\r\n%sConnection: close\r\n\r\n"
           % (R.status_line(code), ctype, length, extra))


def send_bytes(srv, c, code, ctype, body, head_only=False, extra=_NOSTORE):
    respond(c, code, ctype, len(body), extra)
    if not head_only:
        c.body_buf(body, 0, len(body))


def handle(srv, c, req):
    srv.n["requests"] += 1
    path = req.path
    allowed = _ROUTES.get(path)
    if allowed is None and path.startswith("/stills/"):
        allowed = _STILL
    if srv.auth.mode != "none":
        r = srv.auth.check(srv.nonce, req.method, req.get("authorization"), req.target)
        if r != "ok":
            if r == "bad":
                srv._emit("auth_failed", c.ip)
            return error(srv, c, 401, "stale" if r == "stale" else None)
    srv._emit("request", path)
    if allowed is None:
        return error(srv, c, 404)
    if req.method not in allowed:
        return error(srv, c, 405, allow=allowed)
    head_only = req.method == "HEAD"
    if path in ("/", "/index.html"):
        return page(srv, c, req, head_only)
    if path == "/snapshot.jpg":
        return snapshot(srv, c)
    if path == "/stream.mjpg":
        return mjpeg(srv, c)
    if path == "/status.json":
        return status(srv, c, head_only)
    if path == "/still":
        return take_still(srv, c)
    if path in ("/stills", "/stills/"):
        return listing(srv, c, req, head_only)
    return still(srv, c, req, path[8:], head_only)


# -- the page -------------------------------------------------------------------------------
def page(srv, c, req, head_only):
    base = srv.page_dir + "/index.html"
    name, enc = base, ""
    if req.gzip_ok() and _size(base + ".gz") > 0:
        name, enc = base + ".gz", "Content-Encoding: gzip\r\n"
    size = _size(name)
    if size < 0:
        return error(srv, c, 404, "page not installed")
    send_file(c, name, 200, "text/html; charset=utf-8", 0, size, head_only,
              enc + "Vary: Accept-Encoding\r\nCache-Control: no-cache\r\n")


def send_file(c, name, code, ctype, first, n, head_only, extra):
    f = None
    if not head_only and n:
        f = open(name, "rb")
        if first:
            f.seek(first)
    respond(c, code, ctype, n, extra)
    if f is not None:
        c.body_file(f, n)


def _size(name):
    try:
        st = os.stat(name)
    except OSError:
        return -1
    return -1 if st[0] & 0x4000 else st[6]


# -- live -----------------------------------------------------------------------------------
def snapshot(srv, c):
    fr = srv.frames
    if fr is None:
        return error(srv, c, 503, "live view is off (http.frame_slots 0)")
    nw = fr.newest
    if nw >= 0 and fr.age_ms(nw, time.ticks_ms()) <= srv.frame_ms:
        return snapshot_ready(srv, c, nw)
    c.state = C.WAIT            # the camera loop captures one (wants_frame) within a period
    c.t0 = time.ticks_ms()


def snapshot_ready(srv, c, i):
    respond(c, 200, "image/jpeg", srv.frames.size[i], _NOSTORE)
    c.start_frame(srv.frames, i)


def mjpeg(srv, c):
    fr = srv.frames
    if fr is None:
        return error(srv, c, 503, "live view is off (http.frame_slots 0)")
    if not srv.viewer_room():
        return error(srv, c, 503, "viewer limit reached (rtsp.max_clients)")
    c.head("HTTP/1.1 200 OK\r\nContent-Type: multipart/x-mixed-replace; boundary=frame\r\n"
           + _NOSTORE + "Connection: close\r\n\r\n")
    c.state = C.STREAM
    srv.add_viewer(c)
    nw = fr.newest
    if nw >= 0 and fr.age_ms(nw, time.ticks_ms()) <= srv.frame_ms:
        c.start_frame(fr, nw)


# -- status and stills ----------------------------------------------------------------------
def status(srv, c, head_only):
    now = time.ticks_ms()
    if _gc_t[0] is None or time.ticks_diff(now, _gc_t[0]) >= _GC_MS:
        _gc_t[0] = now          # free heap after a collection, at most every 2 s
        gc.collect()
    d = srv.status() if srv.status else {}
    d["uptime_s"] = srv.uptime_s
    d["heap_free"] = gc.mem_free()
    h = srv.stats()
    d["http"] = h
    v = d.get("viewers")
    if isinstance(v, dict):
        v["http"] = srv.viewers
    send_bytes(srv, c, 200, "application/json", json.dumps(d).encode(), head_only)


def take_still(srv, c):
    ok = srv.take_still() if srv.take_still else False
    if not ok:
        return error(srv, c, 503, "stills are off (stills.on_request)")
    send_bytes(srv, c, 202, "application/json", b'{"requested": true}\n')


def _folder(srv):
    st = srv.store
    return st.path("stills") if st is not None else None


def _int(q, key, default, lo, hi):
    v = q.get(key, "")
    if not v:
        return default
    if not v.isdigit() or len(v) > 6:
        raise R.HttpError(400)
    return min(max(int(v), lo), hi)


def listing(srv, c, req, head_only):
    try:
        page_no = _int(req.query, "page", 0, 0, 100000)
        per = _int(req.query, "per", PER_PAGE, 1, 100)
    except R.HttpError as e:
        return error(srv, c, e.code)
    folder = _folder(srv)
    total, items = S.listing(folder, page_no, per) if folder else (0, [])
    if req.wants_json():
        out = {"total": total, "page": page_no, "per": per, "stills": [
            {"name": d + "/" + n, "url": "/stills/%s/%s" % (d, n), "size": sz,
             "time": S.iso_time(d, n)} for d, n, sz in items]}
        body = json.dumps(out).encode()
        return send_bytes(srv, c, 200, "application/json", body, head_only)
    rows = "".join('<li><a href="/stills/%s/%s">%s/%s</a> %d KB</li>' % (
        d, n, d, n, (sz + 1023) // 1024) for d, n, sz in items)
    nav = ""
    if page_no:
        nav += '<a href="?page=%d&per=%d">newer</a> ' % (page_no - 1, per)
    if (page_no + 1) * per < total:
        nav += '<a href="?page=%d&per=%d">older</a>' % (page_no + 1, per)
    body = ('<!DOCTYPE html><html><head><meta charset="utf-8"><meta name="viewport" '
            'content="width=device-width"><title>Stills</title></head><body><h1>Stills</h1>'
            '<p>%d on the drive</p><ul>%s</ul><p>%s</p></body></html>' % (total, rows, nav)).encode()
    send_bytes(srv, c, 200, "text/html; charset=utf-8", body, head_only)


def still(srv, c, req, rel, head_only):
    folder = _folder(srv)
    if folder is None or not S.valid(rel):
        return error(srv, c, 404)
    name = folder + "/" + rel
    size = _size(name)
    if size < 0:
        return error(srv, c, 404)
    if req.method == "DELETE":
        if not srv.store.remove_still("stills/" + rel):
            return error(srv, c, 503, "the drive refused")
        c.head("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        return
    try:
        rng = R.parse_range(req.get("range"), size)
    except R.HttpError:
        respond(c, 416, "text/plain", 0, "Content-Range: bytes */%d\r\n" % size)
        c.linger = True
        return
    extra = "Accept-Ranges: bytes\r\nCache-Control: no-cache\r\n"
    if rng is None:
        return send_file(c, name, 200, "image/jpeg", 0, size, head_only, extra)
    first, last = rng
    send_file(c, name, 206, "image/jpeg", first, last - first + 1, head_only,
              extra + "Content-Range: bytes %d-%d/%d\r\n" % (first, last, size))
