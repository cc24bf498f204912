# Plain-Python versions of rtspd._viper, for ports without the native emitter. Same contract;
# they slice memoryviews, so they allocate a little per call (acceptable only as a fallback).
PKT = 1400
QT_HDR = 132


def copy(dst, src, p):
    d, s, n = p[0], p[1], p[2]
    memoryview(dst)[d:d + n] = memoryview(src)[s:s + n]


def equal(a, b, p):
    i, j, n = p[0], p[1], p[2]
    return 1 if memoryview(a)[i:i + n] == memoryview(b)[j:j + n] else 0


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


def layout(slot, jpeg, p, tq):
    src, total, seq, rlen, dri = p[0], p[1], p[2], p[3], p[4]
    cap = p[9]
    dst = memoryview(slot)
    jv = memoryview(jpeg)
    off = pos = k = 0
    while pos < total:
        hlen = 20 + rlen + (132 if pos == 0 else 0)
        chunk = min(1400 - hlen, total - pos)
        plen = hlen + chunk
        if off + 4 + plen > cap:
            p[10] = -1
            return
        last = pos + chunk >= total
        slot[off:off + 6] = bytes((0x24, p[8], plen >> 8, plen & 0xFF, 0x80,
                                   (0x80 | 26) if last else 26))
        slot[off + 6] = (seq >> 8) & 0xFF
        slot[off + 7] = seq & 0xFF
        dst[off + 8:off + 16] = memoryview(tq)[4:12]
        o = off + 16
        slot[o:o + 8] = bytes((0, (pos >> 16) & 0xFF, (pos >> 8) & 0xFF, pos & 0xFF,
                               p[5], 255, p[6], p[7]))
        o += 8
        if rlen:
            slot[o:o + 4] = bytes(((dri >> 8) & 0xFF, dri & 0xFF, 0xFF, 0xFF))
            o += 4
        if pos == 0:
            dst[o:o + 132] = memoryview(tq)[12:144]
            o += 132
        dst[o:o + chunk] = jv[src + pos:src + pos + chunk]
        off = o + chunk
        pos += chunk
        seq = (seq + 1) & 0xFFFF
        k += 1
    p[10] = k
    p[11] = off
    p[12] = seq
