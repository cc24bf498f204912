# rtspd.stream + rtspd.fast: JPEG scans cut into RFC 2435 packets in a frame slot, checked
# packet by packet, and the machine-code (viper) packetizer against the plain-Python one.
import struct
from rtspd import jpeg as J
from rtspd import fast, _pyfast
from rtspd.stream import Stream, PKT
import rtspd_kit as T


def publish(scan, dri=0, y=0x21, seq=65530, native=True, frame_max=200000, shift=0):
    """One frame published into a fresh stream; shift: bytes of an extra APP segment, which
    moves the scan (and so the alignment the packetizer works with)."""
    extra = T.seg(0xE1, b"x" * shift) if shift else b""
    data, hdr = T.make(y=y, dri=dri, scan=scan, extra=extra)
    from array import array
    info = J.JpegInfo()
    p = array("i", [0] * 16)
    J.parse(data, len(data), info)
    tq = bytearray(12)
    struct.pack_into(">II", tq, 4, 0xDEADBEEF, 0x01020304)
    st = Stream(1, frame_max)
    st.seq = seq
    fast.use(native)
    try:
        st.publish(0, data, info, p, tq, 0)
    finally:
        fast.use(True)
    return st, st.slots[0]


def packets(slot):
    buf = slot.buf
    out = []
    off = slot.base
    while off < slot.base + slot.size:
        assert buf[off] == 0x24 and buf[off + 1] == 0, "bad interleave header at %d" % off
        n = (buf[off + 2] << 8) | buf[off + 3]
        out.append(bytes(buf[off + 4:off + 4 + n]))
        off += 4 + n
    assert off == slot.base + slot.size
    return out


def check(scan, dri=0, y=0x21, seq=65530, native=True, shift=0):
    st, slot = publish(scan, dri, y, seq, native, shift=shift)
    pk = packets(slot)
    assert len(pk) == slot.npk and len(pk[-1]) == slot.last
    rebuilt = b""
    rlen = 4 if dri else 0
    for k, p in enumerate(pk):
        assert len(p) <= PKT
        if k < len(pk) - 1:
            assert len(p) == PKT            # so packet k starts at k * STRIDE in the slot
        assert p[0] == 0x80
        assert p[1] == (0x80 | 26 if k == len(pk) - 1 else 26)
        assert struct.unpack(">H", p[2:4])[0] == (seq + k) & 0xFFFF
        assert p[4:12] == b"\xde\xad\xbe\xef\x01\x02\x03\x04"
        off = (p[13] << 16) | (p[14] << 8) | p[15]
        assert off == len(rebuilt), "fragment offset counts scan bytes only"
        typ = (1 if y == 0x22 else 0) + (64 if dri else 0)
        assert tuple(p[16:20]) == (typ, 255, 160, 90)
        i = 20
        if dri:
            assert p[20:24] == struct.pack(">H", dri) + b"\xff\xff"
            i = 24
        if k == 0:
            assert p[i:i + 4] == b"\x00\x00\x00\x80"
            assert p[i + 4:i + 132] == T.QT0 + T.QT1
            i += 132
        rebuilt += p[i:]
    assert rebuilt == scan
    assert st.seq == (seq + len(pk)) & 0xFFFF
    assert slot.payload == slot.size - 16 * slot.npk
    return pk


def test_one_small_packet():
    assert len(check(b"\x01\x02\x03")) == 1


def test_exact_fit_and_one_more_byte():
    first = PKT - 12 - 8 - 132
    assert len(check(T.scan_bytes(first))) == 1
    assert len(check(T.scan_bytes(first + 1))) == 2


def test_60k_frame_with_sequence_wrap():
    pk = check(T.scan_bytes(60000), seq=65500)
    assert len(pk) > 40


def test_420_with_restart_header():
    check(T.scan_bytes(9000), dri=64, y=0x22)


def test_viper_and_python_packetizers_agree():
    # every alignment of the scan (the copies work in 32-bit words), with and without restart
    # headers, one packet and many
    for n, dri in ((5000, 0), (20000, 32), (1, 0), (1244, 0), (1245, 16)):
        scan = T.scan_bytes(n, seed=n)
        for shift in (0, 1, 2, 3):
            _, a = publish(scan, dri, shift=shift)
            _, b = publish(scan, dri, shift=shift, native=False)
            assert a.base == b.base and a.size == b.size and a.npk == b.npk
            assert a.buf[a.base:a.base + a.size] == b.buf[b.base:b.base + b.size], (n, dri, shift)


def test_python_packetizer_alone():
    check(T.scan_bytes(30000), dri=8, y=0x22, native=False, shift=1)
    check(T.scan_bytes(7000), native=False, shift=2)


def test_the_probe_finds_both_paths_agree():
    assert fast.probe()


def test_native_packetizer_is_used():
    assert fast.NATIVE, "the viper emitter should be available on this port"


def test_frame_larger_than_the_slot_is_refused():
    for native in (True, False):
        try:
            publish(T.scan_bytes(50000), frame_max=20000, native=native)
        except ValueError as e:
            assert "frame_max" in str(e)
            continue
        raise AssertionError("no error for a frame larger than its slot")


def test_copy_and_same_helpers():
    from array import array
    p = array("i", [2, 1, 3] + [0] * 13)
    dst = bytearray(8)
    for f in (fast.copy, _pyfast.copy):
        f(dst, b"abcdef", p)
        assert dst[2:5] == b"bcd"
    for f in (fast.same, _pyfast.same):
        assert f(b"abcdef", 2, b"cde") == 1
        assert f(b"abcdef", 2, b"cdx") == 0


def test_message_head_end_and_first_newline():
    cases = ((b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\nrest", 31), (b"A\nB\n\nbody", 5),
             (b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n", -1), (b"", -1), (b"\r\n\r\n", 4))
    for f in (fast.head_end, _pyfast.head_end):
        for data, want in cases:
            buf = bytearray(data + b"\n\n")       # bytes past n must not count
            assert f(buf, len(data)) == want, (f, data)
    for f in (fast.first_nl, _pyfast.first_nl):
        assert f(bytearray(b"ab\ncd\n"), 7) == 2
        assert f(bytearray(b"abcd\n"), 4) == -1
