# HTTP/1.1 requests (RFC 9112): the head the connection has already delimited and bounded is
# parsed here, per request (never per frame or chunk), so plain string handling is fine.
# Only the headers the routes use are kept: the memory a request costs does not depend on
# what a client sends.

MAX_LINE = 1024     # request line (method, target, version): 414 beyond
MAX_HEAD = 2048     # request line + headers: 431 beyond
MAX_HEADERS = 24    # header lines: 431 beyond
MAX_BODY = 256      # no route takes a body; a small one is read and ignored: 413 beyond
MAX_QUERY = 8       # query parameters kept

REASONS = {
    200: "OK", 202: "Accepted", 204: "No Content", 206: "Partial Content",
    400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
    408: "Request Timeout", 413: "Content Too Large", 414: "URI Too Long",
    416: "Range Not Satisfiable", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 503: "Service Unavailable",
}
METHODS = ("GET", "HEAD", "POST", "DELETE")
_KEEP = ("authorization", "range", "accept", "accept-encoding", "content-length",
         "transfer-encoding")


class HttpError(Exception):
    """A request answered with `code` (and a short text body); the connection then closes."""

    def __init__(self, code, allow=None):
        super().__init__(code)
        self.code = code
        self.allow = allow          # for 405: the methods the path takes


class Request:
    def __init__(self, method, target, path, query):
        self.method = method
        self.target = target        # as sent (Digest's uri)
        self.path = path            # percent-decoded
        self.query = query          # {name: value}, decoded
        self.headers = {}           # the kept headers, lower-case names
        self.length = 0             # Content-Length

    def get(self, name, default=""):
        return self.headers.get(name, default)

    def wants_json(self):
        return self.query.get("format") == "json" or "application/json" in self.get("accept")

    def gzip_ok(self):
        for part in self.get("accept-encoding").split(","):
            p = part.strip().split(";")
            if p[0].strip().lower() in ("gzip", "*"):
                q = p[1].strip() if len(p) > 1 else ""
                return q not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
        return False


def head_size_error(start):
    """The error for a head that did not end within MAX_HEAD bytes, from its first bytes:
    414 when the request line itself is too long, 431 for too many header bytes."""
    return 414 if bytes(start).find(b"\n", 0, MAX_LINE + 2) < 0 else 431


def parse_head(data):
    """Request from the bytes of a head (request line + headers, without the blank line)."""
    try:
        text = data.decode()
    except Exception:
        raise HttpError(400)
    lines = text.split("\n")
    first = lines[0].rstrip("\r")
    if len(first) > MAX_LINE:
        raise HttpError(414)
    if len(lines) - 1 > MAX_HEADERS:
        raise HttpError(431)
    parts = first.split(" ")
    if len(parts) != 3 or parts[2] not in ("HTTP/1.1", "HTTP/1.0"):
        raise HttpError(400)
    method, target = parts[0], parts[1]
    path, query = split_target(target)
    req = Request(method, target, path, query)
    h = req.headers
    for line in lines[1:]:
        line = line.rstrip("\r")
        if not line:
            continue
        colon = line.find(":")
        if colon <= 0 or line[0] in " \t":      # no name, or obsolete line folding
            raise HttpError(400)
        name = line[:colon].lower()
        if name != name.strip():                # no space before the colon (RFC 9112 5.1)
            raise HttpError(400)
        if name in _KEEP:
            if name in h:
                raise HttpError(400)            # e.g. two Content-Length: smuggling
            h[name] = line[colon + 1:].strip()
    if "transfer-encoding" in h:
        raise HttpError(400)                    # no route takes a chunked body
    v = h.get("content-length", "0")
    if not v.isdigit() or len(v) > 9:
        raise HttpError(400)
    req.length = int(v)
    if req.length > MAX_BODY:
        raise HttpError(413)
    if method not in METHODS:
        raise HttpError(405)
    return req


def split_target(target):
    """(decoded path, query dict) of an origin-form target ("/a/b?x=1"); HttpError(400) for
    anything else. An absolute-form target (http://host/path) gives its path."""
    if target.startswith("http://"):
        slash = target.find("/", 7)
        target = target[slash:] if slash >= 0 else "/"
    if not target.startswith("/"):
        raise HttpError(400)
    q = target.find("?")
    raw, qs = (target, "") if q < 0 else (target[:q], target[q + 1:])
    h = raw.find("#")
    if h >= 0:
        raw = raw[:h]
    query = {}
    if qs:
        for item in qs.split("&"):
            if len(query) >= MAX_QUERY:
                break
            k, _, v = item.partition("=")
            query[unquote(k, True)] = unquote(v, True)
    return unquote(raw), query


def unquote(s, plus=False):
    """Percent-decoding as UTF-8; HttpError(400) for a bad escape, bad UTF-8 or a NUL."""
    if plus:
        s = s.replace("+", " ")
    if "%" not in s:
        if "\x00" in s:
            raise HttpError(400)
        return s
    out = bytearray()
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == "%":
            try:
                out.append(int(s[i + 1:i + 3], 16))
            except ValueError:
                raise HttpError(400)
            if len(s[i + 1:i + 3]) != 2:
                raise HttpError(400)
            i += 3
        else:
            out.extend(c.encode())
            i += 1
    try:
        s = bytes(out).decode()
    except Exception:
        raise HttpError(400)
    if "\x00" in s:
        raise HttpError(400)
    return s


def parse_range(value, size):
    """A single `bytes=` range against a file of `size` bytes: (first, last) inclusive, None
    to send the whole file (no Range, several ranges, or one this server does not parse, as
    RFC 9110 14.2 allows), or HttpError(416) when it starts past the end."""
    if not value:
        return None
    value = value.strip()
    if not value.startswith("bytes=") or "," in value:
        return None
    a, dash, b = value[6:].strip().partition("-")
    a, b = a.strip(), b.strip()
    if not dash or (a and not a.isdigit()) or (b and not b.isdigit()) or not (a or b):
        return None
    if len(a) > 12 or len(b) > 12:
        return None
    if not a:                                   # the last b bytes
        n = int(b)
        if n == 0:
            raise HttpError(416)
        return (max(size - n, 0), size - 1) if size else None
    first = int(a)
    if first >= size:
        raise HttpError(416)
    last = int(b) if b else size - 1
    if last < first:
        return None
    return first, min(last, size - 1)


def status_line(code):
    return "HTTP/1.1 %d %s\r\n" % (code, REASONS.get(code, "Error"))
