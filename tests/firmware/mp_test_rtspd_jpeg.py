# rtspd.jpeg: what RFC 2435 needs from a JPEG, and clear refusals of what it cannot carry.
from rtspd import jpeg as J
from rtspd import fast
import rtspd_kit as T


def info():
    return J.JpegInfo()


def refused(data, words):
    try:
        J.parse(data, len(data), info())
    except ValueError as e:
        assert words in str(e), str(e)
        return
    raise AssertionError("accepted a JPEG that RFC 2435 cannot carry: " + words)


def test_422_is_type_0_with_scan_position():
    data, hdr = T.make(y=0x21, scan=b"\x01\x02\x03\x04")
    i = J.parse(data, len(data), info())
    assert (i.type, i.width, i.height, i.dri) == (0, 1280, 720, 0)
    assert i.scan == hdr and i.scan_len == 4
    assert data[i.qt[i.qy]:i.qt[i.qy] + 64] == T.QT0
    assert data[i.qt[i.qc]:i.qt[i.qc] + 64] == T.QT1


def test_420_is_type_1():
    data, _ = T.make(y=0x22)
    assert J.parse(data, len(data), info()).type == 1


def test_restart_interval_adds_64():
    data, _ = T.make(y=0x22, dri=40)
    i = J.parse(data, len(data), info())
    assert i.type == 65 and i.dri == 40


def test_tables_in_separate_segments_and_padding_after_eoi():
    data, hdr = T.make(dqt=b"\x00" + T.QT0, extra=T.seg(0xDB, b"\x01" + T.QT1),
                       pad=b"\x00" * 20, scan=b"\x33" * 30)
    i = J.parse(data, len(data), info())
    assert i.scan == hdr and i.scan_len == 30
    assert data[i.qt[i.qc]:i.qt[i.qc] + 64] == T.QT1


def test_length_argument_is_respected():
    data, hdr = T.make(scan=b"\x55" * 100)
    buf = bytearray(len(data) + 500)      # a frame buffer larger than the JPEG in it
    buf[:len(data)] = data
    i = J.parse(buf, len(data), info())
    assert i.scan_len == 100


def test_huffman_check_is_the_same_on_both_paths_staged_or_not():
    # the plain-Python path compares the tables from the stage (no allocation) when the frame
    # is staged, by slicing otherwise; machine code reads the frame in place
    good, _ = T.make()
    bad = bytearray(J._STD_HUFF)
    bad[300] ^= 4                           # in the chroma AC table
    bad, _ = T.make(dht=bytes(bad))
    try:
        for native in (True, False):
            fast.use(native)
            for staged in (False, True):
                for data, ok in ((good, True), (bad, False)):
                    if staged:
                        fast.stage(data, len(data))
                    try:
                        J.parse(data, len(data), info())
                        assert ok, (native, staged)
                    except ValueError as e:
                        assert not ok and "Huffman" in str(e), (native, staged, e)
                    finally:
                        fast.unstage()
    finally:
        fast.use(True)


def test_refuses_444():
    refused(T.make(y=0x11)[0], "4:4:4")


def test_refuses_grayscale():
    refused(T.make(ncomp=1)[0], "grayscale")


def test_refuses_progressive():
    refused(T.make(sof=0xC2)[0], "progressive")


def test_refuses_optimized_huffman_tables():
    bad = bytearray(J._STD_HUFF)
    bad[40] ^= 1
    refused(T.make(dht=bytes(bad))[0], "Huffman")


def test_refuses_16_bit_tables_and_odd_sizes_and_junk():
    refused(T.make(dqt=b"\x10" + bytes(128))[0], "16-bit")
    refused(T.make(w=1282)[0], "multiple of 8")
    refused(T.make(w=4096)[0], "2040")
    refused(T.make(eoi=False)[0], "truncated")
    refused(b"GIF89a" + bytes(100), "not a JPEG")
    data, hdr = T.make()
    refused(data[:hdr - 5], "")           # cut inside the header: any clear ValueError
