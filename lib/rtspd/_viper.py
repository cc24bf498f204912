# Byte-moving loops compiled to machine code with the viper emitter (the camera's mimxrt port
# and the unix port both have it). Kept in their own module so a port without native code can
# fall back to rtspd._pyfast, which has the same functions in plain Python.
#
# Viper functions take at most 4 arguments on older firmware (MicroPython < 1.21), so offsets
# and lengths travel in a small int array `p` (array("i")) that the caller fills.
import micropython

PKT = 1400          # RTP packet size limit (proxies forward TCP-interleaved packets to UDP)
QT_HDR = 132        # RFC 2435 quantization table header: 4 bytes + 2 x 64 table bytes


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
def equal(a: ptr8, b: ptr8, p: ptr32) -> int:
    """1 if a[p[0]:p[0]+p[2]] == b[p[1]:p[1]+p[2]], else 0."""
    i = p[0]
    j = p[1]
    e = i + p[2]
    while i < e:
        if a[i] != b[j]:
            return 0
        i += 1
        j += 1
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
def layout(slot: ptr8, jpeg: ptr8, p: ptr32, tq: ptr8):
    """Cut the JPEG scan into RFC 2435 RTP packets, each behind a 4-byte '$' interleave header.

    Every packet but the last is exactly PKT bytes, so packet k starts at k * (PKT + 4).
    In:  p[0] scan offset in jpeg, p[1] scan length, p[2] first sequence number,
         p[3] restart header length (0 or 4), p[4] DRI, p[5] type, p[6] width/8, p[7] height/8,
         p[8] '$' channel, p[9] slot capacity;
         tq[4:12] = RTP timestamp + SSRC (big-endian), tq[12:144] = quantization table header.
    Out: p[10] packets (-1 when the slot is too small), p[11] bytes used, p[12] next sequence.
    """
    src = p[0]
    total = p[1]
    seq = p[2]
    rlen = p[3]
    dri = p[4]
    cap = p[9]
    off = 0
    pos = 0
    k = 0
    while pos < total:
        hlen = 20 + rlen
        if pos == 0:
            hlen += 132
        chunk = 1400 - hlen
        if chunk > total - pos:
            chunk = total - pos
        plen = hlen + chunk
        if off + 4 + plen > cap:
            p[10] = -1
            return
        slot[off] = 0x24
        slot[off + 1] = p[8]
        slot[off + 2] = plen >> 8
        slot[off + 3] = plen & 0xFF
        o = off + 4
        slot[o] = 0x80
        if pos + chunk >= total:
            slot[o + 1] = 0x80 | 26        # marker: last packet of the frame
        else:
            slot[o + 1] = 26
        slot[o + 2] = (seq >> 8) & 0xFF
        slot[o + 3] = seq & 0xFF
        i = 4
        while i < 12:
            slot[o + i] = tq[i]
            i += 1
        o += 12
        slot[o] = 0                        # type-specific
        slot[o + 1] = (pos >> 16) & 0xFF   # fragment offset: scan bytes only
        slot[o + 2] = (pos >> 8) & 0xFF
        slot[o + 3] = pos & 0xFF
        slot[o + 4] = p[5]
        slot[o + 5] = 255                  # Q=255: tables in-band, every frame
        slot[o + 6] = p[6]
        slot[o + 7] = p[7]
        o += 8
        if rlen:
            slot[o] = (dri >> 8) & 0xFF
            slot[o + 1] = dri & 0xFF
            slot[o + 2] = 0xFF             # F=1 L=1 count=0x3FFF: not aligned to intervals
            slot[o + 3] = 0xFF
            o += 4
        if pos == 0:
            i = 12
            while i < 144:
                slot[o] = tq[i]
                o += 1
                i += 1
        s = src + pos
        e = s + chunk
        while s < e:
            slot[o] = jpeg[s]
            o += 1
            s += 1
        off = o
        pos += chunk
        seq = (seq + 1) & 0xFFFF
        k += 1
    p[10] = k
    p[11] = off
    p[12] = seq
