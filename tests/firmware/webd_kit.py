# Shared helpers for the webd firmware tests (a helper module: no test_ functions here).
# A WebServer on stub sockets and a stub loop: the request handling and the send paths
# without a network (runs on the unix port and on the Cortex-M7 tool, which has no sockets).
import time
import select
from rtspd.auth import _md5hex, parse_params

POLLIN = select.POLLIN
POLLOUT = select.POLLOUT
PASSWORD = "secret-pw1"


class Sock:
    """The server's end of a connection: readinto() hands out `data`, then EAGAIN (None),
    or end of stream once eof is set; write(buf, off, n) takes what is left of `cap` bytes
    per pass of the loop (0: everything; `room` is refilled by poll()), like a TCP send
    buffer that drains between passes, and keeps them unless keep is False."""

    def __init__(self, data=b"", cap=0, keep=True):
        self.inq = bytes(data)
        self.cap = cap
        self.room = cap
        self.keep = keep
        self.got = bytearray() if keep else None
        self.nbytes = 0
        self.eof = False
        self.closed = False
        self.full = False           # takes nothing (a viewer that does not read)

    def readinto(self, buf, n=-1):
        if not self.inq:
            return 0 if self.eof else None
        k = min(len(buf), len(self.inq))
        for i in range(k):
            buf[i] = self.inq[i]
        self.inq = self.inq[k:]
        return k

    def write(self, buf, off=0, n=-1):
        if self.closed:
            raise OSError(104)
        if self.full:
            return None
        if n < 0:
            n = len(buf) - off
        if self.cap:
            if self.room <= 0:
                return None
            if n > self.room:
                n = self.room
            self.room -= n
        if self.got is not None:
            self.got.extend(memoryview(buf)[off:off + n])
        self.nbytes += n
        return n

    def setblocking(self, flag):
        pass

    def close(self):
        self.closed = True


class Loop:
    """What webd needs of the RtspServer whose poller runs it."""

    def __init__(self):
        self.masks = {}
        self.guest = None
        self.sessions = 0

    def watch(self, s, m):
        self.masks[s] = m
        return True

    def unwatch(self, s):
        self.masks.pop(s, None)

    def sessions_in_use(self):
        return self.sessions


class Store:
    """storage.Storage as webd uses it: path(name) under a root, remove_still()."""

    def __init__(self, root):
        self.root = root

    def path(self, name):
        return self.root + "/" + name

    def remove_still(self, name):
        import os
        try:
            os.remove(self.path(name))
            return True
        except OSError:
            return False


def server(auth="none", slots=2, frame_max=65536, **kw):
    from webd.server import WebServer
    loop = Loop()
    srv = WebServer(loop, auth=auth, user="admin", password=None if auth == "none" else PASSWORD,
                    slots=slots, frame_max=frame_max, **kw)
    loop.guest = srv
    srv.events = []
    srv.on_event = lambda name, arg: srv.events.append((name, arg))
    return srv


def connect(srv, data=b"", cap=0, keep=True):
    """A new connection that sends `data`; handled once. Returns (conn, sock)."""
    sk = Sock(data, cap, keep)
    c = srv._free_conn()
    assert c is not None, "pool full"
    c.open(sk, "10.0.0.2", time.ticks_ms())
    srv._by_sock[sk] = c
    c.mask = POLLIN
    srv.loop.watch(sk, POLLIN)
    srv.on_poll(sk, POLLIN)
    return c, sk


def poll(srv, sk, fl=POLLOUT):
    """One pass of the loop for this socket: its send buffer drained, then the event."""
    sk.room = sk.cap
    srv.on_poll(sk, fl)


def pump(srv, sk, rounds=2000):
    """Let the server write until the connection closes or makes no more progress."""
    for _ in range(rounds):
        if sk.closed or sk not in srv._by_sock:
            return
        before = sk.nbytes
        poll(srv, sk)
        if sk.nbytes == before:
            return


def ask(srv, text, body=b""):
    """Send one request, let the answer out: (status, headers dict, body bytes, sock)."""
    if isinstance(text, str):
        text = text.encode()
    c, sk = connect(srv, text + body)
    pump(srv, sk)
    return parse(sk.got) + (sk,)


def parse(data):
    data = bytes(data)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split(" ")[1])
    h = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        k = k.strip().lower()
        h[k] = (h[k] + "\n" + v.strip()) if k in h else v.strip()
    return status, h, body


def digest(challenge, method, uri, user="admin", password=PASSWORD, nc="00000001"):
    """An Authorization value answering a 401's WWW-Authenticate (qop=auth)."""
    for line in challenge.split("\n"):
        if line.startswith("Digest"):
            p = parse_params(line[7:])
    ha1 = _md5hex("%s:%s:%s" % (user, p["realm"], password))
    ha2 = _md5hex("%s:%s" % (method, uri))
    cnonce = "0a4f113b"
    resp = _md5hex("%s:%s:%s:%s:auth:%s" % (ha1, p["nonce"], nc, cnonce, ha2))
    return ('Digest username="%s", realm="%s", nonce="%s", uri="%s", qop=auth, nc=%s, '
            'cnonce="%s", response="%s", algorithm=MD5' % (user, p["realm"], p["nonce"], uri,
                                                           nc, cnonce, resp))


def jpeg(n, seed=1):
    """n bytes that start like a JPEG and vary with seed."""
    b = bytearray(n)
    x = seed
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        b[i] = (x >> 16) & 0xFF
    b[0], b[1], b[-2], b[-1] = 0xFF, 0xD8, 0xFF, 0xD9
    return b


def parts(data):
    """The JPEGs of an MJPEG body (multipart/x-mixed-replace; boundary=frame), checked."""
    out = []
    data = bytes(data)
    i = 0
    while True:
        j = data.find(b"--frame\r\n", i)
        if j < 0:
            return out
        assert data[i:j] in (b"", b"\r\n"), data[i:j][:40]
        h_end = data.find(b"\r\n\r\n", j)
        if h_end < 0:
            return out                      # a part still being written
        head = data[j:h_end].decode()
        n = int(head.split("Content-Length:")[1].strip())
        assert "Content-Type: image/jpeg" in head
        body = data[h_end + 4:h_end + 4 + n]
        if len(body) < n:
            return out
        out.append(body)
        i = h_end + 4 + n
