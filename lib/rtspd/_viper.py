# Byte-moving loops compiled to machine code with the viper emitter (the camera's mimxrt port
# and the unix port both have it). rtspd.fast binds these or the plain-Python ones of
# rtspd._pyfast (same contract, same bytes out); rtspd.nativeguard decides which on the camera.
#
# Viper functions take at most 4 arguments on older firmware (MicroPython < 1.21), so offsets
# and lengths travel in a small int array `p` (array("i")) that the caller fills.
import micropython
from rtspd import _pyfast


@micropython.viper
def copy(dst: ptr8, src: ptr8, p: ptr32):
    """dst[p[0]:p[0]+p[2]] = src[p[1]:p[1]+p[2]], without slicing (no heap use)."""
    d = p[0]
    s = p[1]
    e = s + p[2]
    while s < e:
        dst[d] = src[s]
        d += 1
        s += 1


@micropython.viper
def same(b: ptr8, i: int, ref) -> int:
    """1 if b[i:i+len(ref)] == ref, else 0."""
    r = ptr8(ref)
    n = int(len(ref))
    k = 0
    while k < n:
        if b[i + k] != r[k]:
            return 0
        k += 1
    return 1


@micropython.viper
def head_end(buf: ptr8, n: int) -> int:
    """Length of the message head in buf[:n] up to and including its blank line
    ("\r\n\r\n" or "\n\n"), or -1 when the blank line has not arrived yet."""
    i = 0
    while i < n:
        if buf[i] == 10:
            j = i + 1
            if j < n and buf[j] == 13:
                j += 1
            if j < n and buf[j] == 10:
                return j + 1
        i += 1
    return -1


@micropython.viper
def first_nl(buf: ptr8, n: int) -> int:
    """Index of the first "\n" in buf[:n], or -1."""
    i = 0
    while i < n:
        if buf[i] == 10:
            return i
        i += 1
    return -1


@micropython.viper
def _headers(slot, jpeg, p: ptr32, tq: ptr8):
    # the headers of every packet laid out by _pyfast.payloads() (see layout())
    s8 = ptr8(slot)
    j8 = ptr8(jpeg)
    total = p[1]
    seq = p[2]
    rlen = p[3]
    dri = p[4]
    off = p[15]
    pos = 0
    while pos < total:
        hlen = 20 + rlen
        if pos == 0:
            hlen += 132
        chunk = 1400 - hlen
        if chunk > total - pos:
            chunk = total - pos
        plen = hlen + chunk
        s8[off] = 0x24
        s8[off + 1] = p[8]
        s8[off + 2] = plen >> 8
        s8[off + 3] = plen & 0xFF
        o = off + 4
        s8[o] = 0x80
        if pos + chunk >= total:
            s8[o + 1] = 0x80 | 26          # marker: last packet of the frame
        else:
            s8[o + 1] = 26
        s8[o + 2] = (seq >> 8) & 0xFF
        s8[o + 3] = seq & 0xFF
        i = 4
        while i < 12:
            s8[o + i] = tq[i]
            i += 1
        o += 12
        s8[o] = 0                          # type-specific
        s8[o + 1] = (pos >> 16) & 0xFF     # fragment offset: scan bytes only
        s8[o + 2] = (pos >> 8) & 0xFF
        s8[o + 3] = pos & 0xFF
        s8[o + 4] = p[5]
        s8[o + 5] = 255                    # Q=255: tables in-band, every frame
        s8[o + 6] = p[6]
        s8[o + 7] = p[7]
        o += 8
        if rlen:
            s8[o] = (dri >> 8) & 0xFF
            s8[o + 1] = dri & 0xFF
            s8[o + 2] = 0xFF               # F=1 L=1 count=0x3FFF: not aligned to intervals
            s8[o + 3] = 0xFF
            o += 4
        if pos == 0:                       # quantization table header: luma, then chroma
            s8[o] = 0
            s8[o + 1] = 0
            s8[o + 2] = 0
            s8[o + 3] = 128
            o += 4
            i = 0
            qy = p[13]
            qc = p[14]
            while i < 64:
                s8[o + i] = j8[qy + i]
                s8[o + 64 + i] = j8[qc + i]
                i += 1
        off += 4 + plen
        pos += chunk
        seq = (seq + 1) & 0xFFFF
    p[12] = seq


def layout(sl, jpeg, p, tq):
    """Cut the JPEG scan into RFC 2435 RTP packets in slot sl (sl.buf), each behind a 4-byte
    '$' interleave header, from sl.buf[p[15]] on.

    Every packet but the last is exactly PKT (1400) bytes, so packet k starts at
    p[15] + k * 1404. p[15] (0..3) = p[0] & 3 keeps each payload and its source equally
    aligned, so the C copies move whole words.
    In:  p[0] scan offset in jpeg, p[1] scan length, p[2] first sequence number,
         p[3] restart header length (0 or 4), p[4] DRI, p[5] type, p[6] width/8, p[7] height/8,
         p[8] '$' channel, p[9] slot capacity, p[13]/p[14] offset of the luma/chroma
         quantization table in jpeg (64 bytes each), p[15] where the first packet starts;
         tq[4:12] = RTP timestamp + SSRC (big-endian).
    Out: p[10] packets (-1 when the slot is too small), p[11] bytes used (from p[15]),
         p[12] next sequence number.
    The payloads are copied by C (stream.readinto, see _pyfast): a viper loop moves about 7
    instructions per byte on the Cortex-M7, memcpy 1.3. Machine code writes the headers.
    """
    if _pyfast.payloads(sl, jpeg, p) > 0:
        _headers(sl.buf, jpeg, p, tq)


# The frame is staged for the payload copies as on the plain-Python path.
reserve = _pyfast.reserve
stage = _pyfast.stage
unstage = _pyfast.unstage
