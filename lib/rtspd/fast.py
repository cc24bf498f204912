# The byte-moving primitives, in machine code (rtspd._viper) or plain Python (rtspd._pyfast).
# Both give the same bytes; callers always go through this module (fast.layout(...)), so use()
# can switch at run time. The native backend is the default where the port can compile it;
# on the camera rtspd.nativeguard decides (a board that reset inside native code once gets
# the Python path for good).
from rtspd import _pyfast

NATIVE = False
copy = same = layout = head_end = first_nl = reserve = stage = unstage = None


def use(native):
    """Bind the primitives to machine code (native=True, where the port has a native
    emitter) or to plain Python. Returns True when machine code is in use."""
    global NATIVE, copy, same, layout, head_end, first_nl, reserve, stage, unstage
    m = _pyfast
    if native:
        try:
            from rtspd import _viper as m       # compiling runs none of it
        except Exception:       # SyntaxError/ValueError/OSError: no native emitter on this port
            m = _pyfast
    copy = m.copy
    same = m.same
    layout = m.layout
    head_end = m.head_end
    first_nl = m.first_nl
    reserve = m.reserve
    stage = m.stage
    unstage = m.unstage
    NATIVE = m is not _pyfast
    return NATIVE


class _Slot:
    def __init__(self, n):
        self.buf = bytearray(n)
        self.wins = None
        self.qwins = None


def probe():
    """Call every machine-code primitive once on a small input and compare with the plain-
    Python ones (the first run of native code: see rtspd.nativeguard). True when they agree;
    False when no machine code is in use."""
    if not NATIVE:
        return False
    from array import array
    from rtspd import _viper as v
    py = _pyfast
    jpeg = bytearray(3300)
    for i in range(len(jpeg)):
        jpeg[i] = (i * 7 + (i >> 8)) & 0xFF
    tq = bytearray(b"\x00\x00\x00\x00\x12\x34\x56\x78\x9a\xbc\xde\xf0")
    out = []
    for m in (v, py):
        p = array("i", [301, 2990, 65534, 4, 64, 65, 160, 90, 0, 3400, 0, 0, 0, 5, 80, 301 & 3])
        sl = _Slot(3400)
        m.layout(sl, jpeg, p, tq)
        py.unstage()
        c = bytearray(8)
        q = array("i", [2, 1, 3])
        m.copy(c, b"abcdef", q)
        req = bytearray(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        out.append((bytes(sl.buf), tuple(p), bytes(c), m.same(jpeg, 5, bytes(jpeg[5:40])),
                    m.same(jpeg, 5, b"\x00" * 4), m.head_end(req, len(req)),
                    m.first_nl(req, len(req))))
    return out[0] == out[1]


use(True)
