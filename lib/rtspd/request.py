# RTSP/1.0 messages (RFC 2326): parsing a request head that the connection has already
# delimited and bounded, and formatting responses. Runs per request, never per packet.

MAX_HEADERS = 32
MAX_LINE = 1024
MAX_BODY = 2048

REASONS = {
    200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
    405: "Method Not Allowed", 413: "Request Entity Too Large", 451: "Parameter Not Understood",
    454: "Session Not Found", 455: "Method Not Valid in This State",
    459: "Aggregate Operation Not Allowed", 461: "Unsupported Transport",
    500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable",
    505: "RTSP Version Not Supported", 551: "Option not supported",
}

PUBLIC = "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER"


class BadRequest(Exception):
    """A request we answer with `code` (and maybe close the connection after)."""

    def __init__(self, code, cseq=None, close=False):
        super().__init__(code)
        self.code = code
        self.cseq = cseq
        self.close = close


class Request:
    def __init__(self, method, uri, headers):
        self.method = method
        self.uri = uri
        self.headers = headers      # lower-case name -> value (str)
        self.body = b""
        self.cseq = headers.get("cseq")

    def get(self, name, default=""):
        return self.headers.get(name, default)


def parse_head(data):
    """Request from the bytes of a head (request line + headers, without the blank line)."""
    try:
        text = data.decode()
    except Exception:
        raise BadRequest(400, close=True)
    lines = text.split("\n")
    if len(lines) > MAX_HEADERS + 1:
        raise BadRequest(400, close=True)
    first = lines[0].strip()
    parts = first.split(" ")
    headers = {}
    name = None
    for line in lines[1:]:
        if len(line) > MAX_LINE:
            raise BadRequest(400, close=True)
        line = line.rstrip("\r")
        if not line:
            continue
        if line[0] in " \t" and name:           # folded continuation of the previous header
            headers[name] += " " + line.strip()
            continue
        colon = line.find(":")
        if colon <= 0:
            raise BadRequest(400, headers.get("cseq"))
        name = line[:colon].strip().lower()
        headers[name] = line[colon + 1:].strip()
    cseq = headers.get("cseq")
    if len(parts) != 3 or not parts[0] or not parts[1] or len(first) > MAX_LINE:
        raise BadRequest(400, cseq, close=len(parts) < 2)
    if not parts[2].startswith("RTSP/"):
        raise BadRequest(400, cseq, close=True)
    if parts[2] != "RTSP/1.0":
        raise BadRequest(505, cseq)
    if cseq is None or not cseq.isdigit() or len(cseq) > 10:
        raise BadRequest(400, None if cseq is None or len(cseq) > 10 else cseq)
    return Request(parts[0], parts[1], headers)


def content_length(req):
    v = req.get("content-length", "0")
    if not v.isdigit() or len(v) > 9:
        raise BadRequest(400, req.cseq, close=True)
    n = int(v)
    if n > MAX_BODY:
        raise BadRequest(413, req.cseq, close=True)
    return n


def response(code, cseq, lines=None, body=b""):
    """Response bytes: status line, CSeq (echoed whenever the request had a valid one), headers."""
    out = ["RTSP/1.0 %d %s" % (code, REASONS.get(code, "Error"))]
    if cseq is not None:
        out.append("CSeq: " + cseq)
    out.append("Server: rtspd")
    if lines:
        out.extend(lines)
    if body:
        out.append("Content-Length: %d" % len(body))
    return ("\r\n".join(out) + "\r\n\r\n").encode() + body


def uri_path(uri):
    """Path of an rtsp:// URI (or of an absolute path): no scheme, host, query or fragment."""
    if uri.startswith("rtsp://") or uri.startswith("rtsps://"):
        slash = uri.find("/", uri.find("//") + 2)
        path = uri[slash:] if slash >= 0 else "/"
    else:
        path = uri
    q = path.find("?")
    if q >= 0:
        path = path[:q]
    return path
