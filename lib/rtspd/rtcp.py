# RTCP (RFC 3550): the sender report + SDES CNAME the server sends to each viewer, and a look
# at what viewers send back (any packet is proof of life; a BYE ends the session).
import struct
import time

NTP_DELTA = 2208988800      # seconds from 1900 (NTP epoch) to 1970 (the RTC's epoch)


class WallClock:
    """Wall-clock time for sender reports: the RTC (whole seconds) refined with ticks_ms.

    The RTC has a 1 s resolution; tick() is called every few hundred ms and re-anchors when
    the RTC second changes, so the millisecond part is right to within that period. A jump
    of the RTC (NTP sync) is followed at the next change.
    """

    def __init__(self):
        self.sec = 0
        self.at = time.ticks_ms()
        self.last = -1

    def tick(self):
        now = time.ticks_ms()
        try:
            rtc = int(time.time())
        except Exception:       # RTC unreadable (emulator without a board): keep ticking
            return
        if rtc != self.last:     # a new RTC second began since the last call (or a jump)
            self.sec = rtc
            self.at = now
            self.last = rtc

    def ntp(self):
        """(seconds since 1900, fraction of a second in 1/2**32) for now."""
        ms = time.ticks_diff(time.ticks_ms(), self.at)
        sec = self.sec + ms // 1000
        frac = ((ms % 1000) << 32) // 1000
        return (sec + NTP_DELTA) & 0xFFFFFFFF, frac & 0xFFFFFFFF


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
