# RTCP (RFC 3550): the sender report + SDES CNAME the server sends to each viewer, and a look
# at what viewers send back (any packet is proof of life; a BYE ends the session).
import struct


def sender_report(buf, ssrc, ntp, rtptime, packets, octets, cname):
    """Write SR + SDES(CNAME) into buf at offset 4 (room for a '$' header); returns length."""
    struct.pack_into(">BBHIIIIII", buf, 4, 0x80, 200, 6, ssrc, ntp[0], ntp[1],
                     rtptime & 0xFFFFFFFF, packets & 0xFFFFFFFF, octets & 0xFFFFFFFF)
    n = len(cname)
    # SDES chunk: SSRC, CNAME item (type 1, length, text), END, padded to 32 bits
    words = (4 + 2 + n + 1 + 3) // 4
    o = 4 + 28
    struct.pack_into(">BBHIBB", buf, o, 0x81, 202, words, ssrc, 1, n)
    buf[o + 10:o + 10 + n] = cname
    e = o + 10 + n
    end = o + 4 + words * 4
    while e < end:
        buf[e] = 0
        e += 1
    return end - 4


def is_bye(b, n):
    """True if the compound RTCP packet b[:n] contains a BYE."""
    i = 0
    while i + 4 <= n:
        if b[i] >> 6 != 2:
            return False
        if b[i + 1] == 203:
            return True
        i += 4 + ((b[i + 2] << 8) | b[i + 3]) * 4
    return False
