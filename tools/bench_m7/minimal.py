# The floor the send path is measured against (tools/bench_m7): the least a MicroPython
# program can do to send one JPEG as RFC 2435 packets to one TCP-interleaved viewer. Per
# packet: the '$' + RTP + JPEG headers with one struct.pack_into, then sock.write(buf, off, n)
# of the header and of the payload straight from the JPEG. No copy of the frame (so the
# camera could not take the next snapshot before the viewer has it all), no partial writes,
# no second viewer, no UDP, no RTCP: a yardstick, not a server. Allocates nothing per frame.
import struct
from array import array
from rtspd import jpeg

_HDR = ">BBHBBHIIBBBBBBBB"      # '$' ch len | V PT seq | ts | ssrc | 0 offset | type Q w h


class Minimal:
    def __init__(self, sock):
        self.sock = sock
        self.hdr = bytearray(4 + 20 + 132)
        self.info = jpeg.JpegInfo()
        self.seq = 0
        self.ts = 0x11223344
        self.packets = 0
        self.q = array("i", [0, 0])

    def _tables(self, buf):
        # the quantization table header of the first packet: luma then chroma, 64 bytes each
        h = self.hdr
        info = self.info
        h[24] = h[25] = h[26] = 0
        h[27] = 128
        q = self.q
        q[0] = info.qt[info.qy]
        q[1] = info.qt[info.qc]
        i = 0
        while i < 64:
            h[28 + i] = buf[q[0] + i]
            h[92 + i] = buf[q[1] + i]
            i += 1

    def send(self, buf, length):
        info = jpeg.parse(buf, length, self.info)
        self._tables(buf)
        self.ts = (self.ts + 3000) & 0x3FFFFFFF     # kept below 2**30: no heap integer
        h = self.hdr
        sock = self.sock
        scan = info.scan
        total = info.scan_len
        w = info.width >> 3
        ht = info.height >> 3
        pos = 0
        k = 0
        while pos < total:
            hl = 152 if pos == 0 else 20
            n = 1400 - hl
            pt = 26
            if n >= total - pos:
                n = total - pos
                pt = 0x80 | 26
            struct.pack_into(_HDR, h, 0, 0x24, 0, hl + n, 0x80, pt, self.seq, self.ts, 0x5EED,
                             0, (pos >> 16) & 0xFF, (pos >> 8) & 0xFF, pos & 0xFF, info.type,
                             255, w, ht)
            sock.write(h, 0, 4 + hl)
            sock.write(buf, scan + pos, n)
            pos += n
            self.seq = (self.seq + 1) & 0xFFFF
            k += 1
        self.packets = k
