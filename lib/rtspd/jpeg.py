# Reading a baseline JPEG's header: what RFC 2435 needs (scan position, quantization tables,
# type, size, restart interval) and whether the JPEG can be carried at all. Runs once per
# frame on the camera, so it walks the marker segments in place and allocates nothing.
import binascii
from rtspd import fast

# The four Huffman tables of JPEG Annex K (class/id byte, 16 code counts, symbols). RTP/JPEG
# receivers rebuild the header with exactly these, so a JPEG with other tables cannot be sent.
_STD_HUFF = binascii.unhexlify(
    # DC luminance (class 0, id 0)
    "00" "00010501010101010100000000000000" "000102030405060708090a0b"
    # AC luminance (class 1, id 0)
    "10" "0002010303020403050504040000017d"
    "01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a16"
    "1718191a25262728292a3435363738393a434445464748494a535455565758595a63646566676869"
    "6a737475767778797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6"
    "b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8"
    "f9fa"
    # DC chrominance (class 0, id 1)
    "01" "00030101010101010101010000000000" "000102030405060708090a0b"
    # AC chrominance (class 1, id 1)
    "11" "00020102040403040705040400010277"
    "000102031104052131061241510761711322328108144291a1b1c109233352f0156272d10a162434"
    "e125f11718191a262728292a35363738393a434445464748494a535455565758595a636465666768"
    "696a737475767778797a82838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4"
    "b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8"
    "f9fa")
# each standard table (class/id byte included), indexed by class * 2 + id
_STD = tuple(_STD_HUFF[a:a + n] for a, n in ((0, 29), (208, 29), (29, 179), (237, 179)))


class JpegInfo:
    """What send_frame needs from one JPEG; one instance is reused for every frame."""

    def __init__(self):
        self.scan = 0        # offset of the first entropy-coded byte
        self.scan_len = 0    # bytes up to, excluding, the final FFD9
        self.type = 0        # RFC 2435 type: 0 (4:2:2) or 1 (4:2:0), +64 with restart markers
        self.dri = 0
        self.width = 0
        self.height = 0
        self.qt = [-1, -1, -1, -1]   # offset of each 8-bit quantization table (by id)
        self.qy = 0          # table ids used by luma and chroma
        self.qc = 0


def _u16(b, i):
    return (b[i] << 8) | b[i + 1]


def _check_dht(b, i, end, info):
    # a DHT segment holds one or more tables; each must be the standard one for its slot
    while i < end:
        tc = b[i]
        slot = (tc >> 4) * 2 + (tc & 0x0F)
        if tc & 0xEE or slot > 3:
            raise ValueError("JPEG has an unsupported Huffman table id")
        n = 17
        k = 1
        while k < 17:
            n += b[i + k]
            k += 1
        std = _STD[slot]
        if n != len(std) or i + n > end or not fast.same(b, i, std):
            raise ValueError("JPEG uses optimized (non-standard) Huffman tables, which "
                             "RFC 2435 cannot carry: encode with the standard tables")
        i += n


def _sof(b, i, info):
    if b[i] != 8:
        raise ValueError("JPEG sample precision must be 8 bits")
    info.height = _u16(b, i + 1)
    info.width = _u16(b, i + 3)
    if b[i + 5] == 1:
        raise ValueError("grayscale JPEG cannot be carried by RFC 2435: send YCbCr 4:2:2 or 4:2:0")
    if b[i + 5] != 3:
        raise ValueError("JPEG must have 3 components (YCbCr)")
    y, cb, cr = b[i + 7], b[i + 10], b[i + 13]
    if cb != 0x11 or cr != 0x11:
        raise ValueError("JPEG chroma sampling is not supported by RFC 2435")
    if y == 0x21:
        info.type = 0
    elif y == 0x22:
        info.type = 1
    elif y == 0x11:
        raise ValueError("4:4:4 JPEG cannot be carried by RFC 2435: encode 4:2:2 or 4:2:0")
    else:
        raise ValueError("JPEG sampling is not 4:2:2 or 4:2:0")
    if b[i + 11] != b[i + 14]:
        raise ValueError("JPEG chroma components use different quantization tables")
    info.qy = b[i + 8] & 3
    info.qc = b[i + 11] & 3
    w, h = info.width, info.height
    if w == 0 or h == 0 or w & 7 or h & 7 or w > 2040 or h > 2040:
        raise ValueError("JPEG size must be a multiple of 8 and at most 2040 pixels")


def _dqt(b, i, end, info):
    while i < end:
        if b[i] >> 4:
            raise ValueError("JPEG has 16-bit quantization tables (RFC 2435 carries 8-bit only)")
        info.qt[b[i] & 3] = i + 1
        i += 65


def _sos(b, i, info):
    if b[i] != 3:
        raise ValueError("JPEG scan must hold all 3 components (not progressive)")
    if b[i + 2] != 0x00 or b[i + 4] != 0x11 or b[i + 6] != 0x11:
        raise ValueError("JPEG scan uses unexpected Huffman table ids")
    if b[i + 7] != 0 or b[i + 8] != 63 or b[i + 9] != 0:
        raise ValueError("JPEG scan is not baseline (progressive?)")


def _end_of_scan(b, start, length):
    # the image ends with FFD9; some encoders pad after it, so look back a little
    i = length - 2
    stop = length - 64
    if stop < start:
        stop = start
    while i >= stop:
        if b[i] == 0xFF and b[i + 1] == 0xD9:
            return i
        i -= 1
    raise ValueError("JPEG is truncated (no end-of-image marker)")


def parse(b, length, info):
    """Fill `info` from the JPEG in b[:length]; ValueError (clear text) if RFC 2435 can't carry it."""
    if length < 4 or b[0] != 0xFF or b[1] != 0xD8:
        raise ValueError("not a JPEG (no start-of-image marker)")
    info.qt[0] = info.qt[1] = info.qt[2] = info.qt[3] = -1
    info.dri = 0
    info.width = 0
    i = 2
    while i + 4 <= length:
        if b[i] != 0xFF:
            raise ValueError("JPEG header is corrupt")
        m = b[i + 1]
        if m == 0xFF:          # fill byte
            i += 1
            continue
        seg = _u16(b, i + 2)
        body = i + 4
        end = i + 2 + seg
        if seg < 2 or end > length:
            raise ValueError("JPEG header is corrupt")
        if m == 0xC0:
            _sof(b, body, info)
        elif m == 0xC2 or m == 0xC6 or m == 0xCA or m == 0xCE:
            raise ValueError("progressive JPEG cannot be carried by RFC 2435: use baseline")
        elif 0xC1 <= m <= 0xCF and m != 0xC4 and m != 0xC8 and m != 0xCC:
            raise ValueError("JPEG is not baseline (SOF%d)" % (m - 0xC0))
        elif m == 0xC4:
            _check_dht(b, body, end, info)
        elif m == 0xDB:
            _dqt(b, body, end, info)
        elif m == 0xDD:
            info.dri = _u16(b, body)
        elif m == 0xDA:
            if not info.width:
                raise ValueError("JPEG has no baseline frame header (SOF0)")
            _sos(b, body, info)
            if info.qt[info.qy] < 0 or info.qt[info.qc] < 0:
                raise ValueError("JPEG lacks a quantization table it uses")
            info.scan = end
            info.scan_len = _end_of_scan(b, end, length) - end
            if info.scan_len <= 0:
                raise ValueError("JPEG has an empty scan")
            if info.dri:
                info.type += 64
            return info
        i = end
    raise ValueError("JPEG has no scan (no SOS marker)")

