# RTSP authentication: Digest MD5 (RFC 2617 with qop=auth, and RFC 2069 without it, which
# live555/VLC and GStreamer send) and, only when the user enables it, Basic.
# Nonces are per connection and expire. Nothing here logs or returns the password.
import binascii
import hashlib
try:
    from os import urandom
except ImportError:     # firmware 4.5.0-4.5.2 (MicroPython 1.20): no os.urandom; timing jitter
    from entropy import random_bytes as urandom
import time


try:
    _md5 = hashlib.md5
except AttributeError:          # a firmware built without it (it comes with TLS)
    from rtspd._md5 import md5 as _py_md5

    class _md5:
        def __init__(self, data):
            self._d = _py_md5(data)

        def digest(self):
            return self._d


def _md5hex(s):
    return binascii.hexlify(_md5(s.encode()).digest()).decode()


def _same(a, b):
    # compare without an early exit, so timing does not reveal how much of a guess was right
    if len(a) != len(b):
        return False
    r = 0
    for i in range(len(a)):
        r |= ord(a[i]) ^ ord(b[i])
    return r == 0


def parse_params(s):
    """'k1="v 1", k2=v2' -> {"k1": "v 1", "k2": "v2"} (quoted values may hold commas)."""
    out = {}
    i, n = 0, len(s)
    while i < n and len(out) < 16:
        while i < n and s[i] in " ,\t":
            i += 1
        eq = s.find("=", i)
        if eq < 0:
            break
        key = s[i:eq].strip().lower()
        i = eq + 1
        if i < n and s[i] == '"':
            end = s.find('"', i + 1)
            if end < 0:
                end = n
            out[key] = s[i + 1:end]
            i = end + 1
        else:
            end = s.find(",", i)
            if end < 0:
                end = n
            out[key] = s[i:end].strip()
            i = end
    return out


class Auth:
    def __init__(self, mode, user, password, realm, nonce_ms=300000):
        if mode not in ("digest", "basic", "none"):
            raise ValueError("auth must be 'digest', 'basic' or 'none'")
        if mode != "none" and not password:
            raise ValueError("a password is required unless auth is 'none'")
        self.mode = mode
        self.user = user or ""
        self.realm = realm
        self.nonce_ms = nonce_ms
        self._pw = password or ""
        self._ha1 = _md5hex("%s:%s:%s" % (self.user, realm, self._pw)) if mode != "none" else ""

    def new_nonce(self, conn):
        conn.nonce = binascii.hexlify(urandom(16)).decode()
        conn.nonce_t = time.ticks_ms()

    def challenge(self, conn, stale=False):
        """WWW-Authenticate header lines for a 401 (realm before nonce, for live555)."""
        if not conn.nonce or time.ticks_diff(time.ticks_ms(), conn.nonce_t) > self.nonce_ms:
            self.new_nonce(conn)
        lines = []
        if self.mode == "basic":
            lines.append('WWW-Authenticate: Basic realm="%s"' % self.realm)
        lines.append('WWW-Authenticate: Digest realm="%s", nonce="%s", algorithm=MD5, qop="auth"%s'
                     % (self.realm, conn.nonce, ", stale=TRUE" if stale else ""))
        return lines

    def check(self, conn, method, value, uri=None):
        """Check an Authorization header value: 'ok', 'stale' (retry with a new nonce),
        'missing' or 'bad' (wrong credentials). uri: the request's target, which a Digest
        answer must name (HTTP, where one nonce serves many requests); None: not checked."""
        if self.mode == "none":
            return "ok"
        if not value:
            return "missing"
        value = value.strip()
        sp = value.find(" ")
        if sp < 0:
            return "bad"
        scheme = value[:sp].lower()
        rest = value[sp + 1:]
        if scheme == "basic":
            return self._basic(rest.strip()) if self.mode == "basic" else "bad"
        if scheme == "digest":
            p = parse_params(rest)
            if uri is not None and p.get("uri") != uri:
                return "bad"
            return self._digest(conn, method, p)
        return "bad"

    def _basic(self, b64):
        try:
            text = binascii.a2b_base64(b64).decode()
        except Exception:
            return "bad"
        colon = text.find(":")
        if colon < 0:
            return "bad"
        user, pw = text[:colon], text[colon + 1:]
        return "ok" if _same(user, self.user) and _same(pw, self._pw) else "bad"

    def _digest(self, conn, method, p):
        nonce = p.get("nonce", "")
        response = p.get("response", "")
        uri = p.get("uri", "")
        if p.get("username") != self.user or p.get("realm") != self.realm or not response:
            return "bad"
        if not conn.nonce or not _same(nonce, conn.nonce):
            return "stale"      # a nonce from another connection or an old one: new challenge
        ha1 = self._ha1
        if p.get("algorithm", "md5").lower() == "md5-sess":
            ha1 = _md5hex("%s:%s:%s" % (ha1, nonce, p.get("cnonce", "")))
        ha2 = _md5hex("%s:%s" % (method, uri))
        qop = p.get("qop", "")
        if qop == "auth":
            want = _md5hex("%s:%s:%s:%s:auth:%s" % (ha1, nonce, p.get("nc", ""),
                                                    p.get("cnonce", ""), ha2))
        elif qop:
            return "bad"
        else:
            want = _md5hex("%s:%s:%s" % (ha1, nonce, ha2))
        if not _same(response.lower(), want):
            return "bad"
        if time.ticks_diff(time.ticks_ms(), conn.nonce_t) > self.nonce_ms:
            return "stale"
        return "ok"
