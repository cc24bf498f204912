# Plain-Python versions of rtspd._viper: same contract, same bytes out. Used where native code
# is unavailable or not trusted (rtspd.nativeguard), so the frame path allocates nothing per
# packet here either and copies with C loops only:
#  - the frame is staged in a stream (io.BytesIO, allocated once): stream.write(buf, off, n)
#    copies without slicing. A stage smaller than the frame (reserve(): the camera's 280 KB
#    heap on firmware 4.5.0-4.5.5 has no room for a frame-sized one) holds a window of it
#    and is refilled as the packets move on: every byte is still copied once into it;
#  - each packet's payload comes out with stream.readinto(window, n), into memoryview windows
#    over the slot made once per slot: a slice assignment allocates a slice object on the
#    firmware's MicroPython 1.25 and older (py/vm.c MP_BC_BUILD_SLICE), and one into a
#    memoryview over the whole slot moves every byte after the slice (py/sequence.h
#    mp_seq_replace_slice_no_grow memmoves the tail: 23k instructions per 20 KB on the M7);
#  - headers with struct.pack_into.
# copy(), head_end() and first_nl() slice (they allocate a little): they are not per packet.
import io
import struct

PKT = 1400
STRIDE = PKT + 4
_pack = struct.pack_into
_F0 = ">HHHHIIIHH"          # '$' ch, len | V PT(+M), seq | ts | ssrc | offset | type Q | w h
_F1 = ">HHHHIIIHHHH"        # ... and the restart header: DRI, F=1 L=1 count=0x3FFF
_LAST = 0x809A              # V=2, M=1, PT=26
_MORE = 0x801A              # V=2, M=0, PT=26

_io = None                  # the stage: a stream holding (a window of) the frame being sent
_cap = 0
_src = None                 # the buffer staged (only between stage() and unstage())
_len = 0                    # its length
_lo = 0                     # _src[_lo:_hi] is in the stage, from stage position 0
_hi = 0
_scratch = {}               # length -> bytearray, for same()


def reserve(n, exact=False):
    """Make the stage hold n bytes (allocated once, not per frame): at least n, or exactly n.
    A stage smaller than the frames works too, refilled window by window (at least 4 KB: one
    packet's payload or a table, aligned)."""
    global _io, _cap
    n = max(n, 4096)
    if n > _cap or (exact and n != _cap):
        _io = None          # let the old stage go before the new one is allocated
        _io = io.BytesIO(n)
        _cap = n


def stage(buf, n):
    """Stage buf[:n] (or its start when the stage is smaller): same() and layout() then read
    from it. False when there is not enough memory for a stage."""
    global _src, _len
    _src = None
    if not _cap:
        try:
            reserve(n)
        except MemoryError:
            return False
    _src = buf
    _len = n
    _fill(0)
    return True


def _fill(lo):
    # stage _src[lo:lo + _cap]; lo is a multiple of 4, so a stage position keeps the source
    # offset's alignment (the word-aligned C copies of payloads() rely on it)
    global _lo, _hi
    hi = min(lo + _cap, _len)
    _io.seek(0)
    _io.write(_src, lo, hi - lo)
    _lo = lo
    _hi = hi


def _at(i, n):
    # put the stage at source offset i, with _src[i:i + n] staged (n <= _cap - 3)
    if i < _lo or i + n > _hi:
        _fill(i & ~3)
    _io.seek(i - _lo)


def unstage():
    global _src
    _src = None


def copy(dst, src, p):
    d, s, n = p[0], p[1], p[2]
    memoryview(dst)[d:d + n] = memoryview(src)[s:s + n]


def same(b, i, ref):
    n = len(ref)
    if b is _src:
        s = _scratch.get(n)
        if s is None:
            s = _scratch[n] = bytearray(n)      # once per table length
        _at(i, n)
        return 1 if _io.readinto(s) == n and s == ref else 0
    return 1 if bytes(memoryview(b)[i:i + n]) == ref else 0


def head_end(buf, n):
    b = bytes(memoryview(buf)[0:n])
    i = b.find(b"\n")
    while i >= 0:
        j = i + 1
        if b[j:j + 1] == b"\r":
            j += 1
        if b[j:j + 1] == b"\n":
            return j + 1
        i = b.find(b"\n", i + 1)
    return -1


def first_nl(buf, n):
    return bytes(memoryview(buf)[0:n]).find(b"\n")


def _windows(sl):
    # Window k starts 24 bytes into packet k's place (after '$', RTP and JPEG headers; packet
    # 0: after the 132 table bytes too) and reaches past its end: a payload read starts
    # p[15] + rlen bytes before the payload, so the stream position stays word-aligned (fast
    # C copies); those bytes are headers, written after the payload.
    mv = memoryview(sl.buf)
    cap = len(sl.buf)
    wins = []
    for k in range((cap + STRIDE - 1) // STRIDE):
        a = k * STRIDE + (156 if k == 0 else 24)
        b = min((k + 1) * STRIDE + 4, cap)
        wins.append(mv[a:b if b > a else a])
    q = []                  # the two quantization tables of packet 0, by restart length, p[15]
    for o in range(24, 32):
        q.append(mv[o + 4:o + 68])
        q.append(mv[o + 68:o + 132])
    sl.qwins = q
    sl.wins = wins
    return wins


def payloads(sl, jpeg, p):
    """The payload part of layout(): each packet's JPEG bytes copied to their place in sl.buf
    (one C copy per packet, from the stage; the tables of packet 0 are not written, nor any
    header). Sets p[10] (packets, -1 when the slot is too small) and p[11]; returns p[10]."""
    src = p[0]
    total = p[1]
    rlen = p[3]
    base = p[15]
    c0 = 1248 - rlen        # scan bytes in packet 0 (it carries the tables too)...
    c = 1380 - rlen         # ...and in every other packet
    npk = 1 if total <= c0 else 2 + (total - c0 - 1) // c
    size = npk * (24 + rlen) + 132 + total
    if base + size > p[9] or (_src is not jpeg and not stage(jpeg, src + total)):
        p[10] = -1
        return -1
    wins = sl.wins
    if wins is None:
        wins = _windows(sl)
    st = _io
    e = base + rlen         # read from e bytes before the payload: a word-aligned position
    pos = 0
    n = c0
    for k in range(npk):
        if n > total - pos:
            n = total - pos
        _at(src + pos - e, n + e)
        st.readinto(wins[k], n + e)
        pos += n
        n = c
    p[10] = npk
    p[11] = size
    return npk


def layout(sl, jpeg, p, tq):
    """rtspd._viper.layout in Python (same contract)."""
    npk = payloads(sl, jpeg, p)
    if npk < 0:
        return
    buf = sl.buf
    st = _io
    total = p[1]
    rlen = p[3]
    base = p[15]
    ts, ssrc = struct.unpack_from(">II", tq, 4)
    seq = p[2]
    ch = 0x2400 | p[8]
    tqv = (p[5] << 8) | 255
    wh = (p[6] << 8) | p[7]
    dri = p[4]
    q = (base + rlen) << 1  # the table windows of packet 0 (see _windows)
    _pack(">I", buf, base + 24 + rlen, 128)
    _at(p[13], 64)
    st.readinto(sl.qwins[q], 64)
    _at(p[14], 64)
    st.readinto(sl.qwins[q + 1], 64)
    pos = 0
    h = base
    n = 1248 - rlen
    plen = 1400
    mk = _MORE
    for k in range(npk):
        if n >= total - pos:
            n = total - pos
            plen = (152 if k == 0 else 20) + rlen + n
            mk = _LAST
        if rlen:
            _pack(_F1, buf, h, ch, plen, mk, seq, ts, ssrc, pos, tqv, wh, dri, 0xFFFF)
        else:
            _pack(_F0, buf, h, ch, plen, mk, seq, ts, ssrc, pos, tqv, wh)
        h += 4 + plen
        pos += n
        seq = (seq + 1) & 0xFFFF
        n = 1380 - rlen
    p[12] = seq
