# rtspd's send path on stub sockets (no network: runs on the unix port and on the Cortex-M7
# tool, 32-bit like the camera): no heap allocation per packet on either path (machine code,
# plain Python), at most 256 bytes per frame, partial writes, the same bytes from both paths.
import gc
from rtspd import fast
from rtspd.session import Session
import rtspd_kit as T


def _alloc_per_frame(rig, frames=6):
    rig.frame()             # warm up: the slots' windows, the stage, the first-frame work
    rig.frame()
    gc.collect()
    gc.disable()
    try:
        m0 = gc.mem_alloc()
        for _ in range(frames):
            rig.frame()
        return (gc.mem_alloc() - m0) // frames
    finally:
        gc.enable()


def _heap_check(native):
    fast.use(native)
    try:
        small, _ = T.make(scan=T.scan_bytes(2000))          # 2 packets
        big, _ = T.make(scan=T.scan_bytes(150000, seed=7))  # 110 packets
        out = []
        for data in (small, big):
            rig = T.Rig(data, tcp=2, udp=1)
            out.append((_alloc_per_frame(rig), rig.packets()))
            rig = None
            gc.collect()
    finally:
        fast.use(True)
    (a_small, n_small), (a_big, n_big) = out
    print("%s path: heap B/frame %d (%d packets), %d (%d packets)" % (
        "native" if native else "python", a_small, n_small, a_big, n_big))
    assert n_big - n_small > 100
    # 108 packets more per frame, for each of three viewers, and not one byte more
    assert a_big <= a_small, (a_small, a_big)
    assert a_big <= 256, a_big


def test_python_path_allocates_nothing_per_packet():
    _heap_check(False)


def test_native_path_allocates_nothing_per_packet():
    _heap_check(True)


def _streams(native, cap):
    fast.use(native)
    try:
        data, _ = T.make(scan=T.scan_bytes(30000, seed=3), dri=16, y=0x22,
                         extra=T.seg(0xE1, b"abc"))    # scan offset not a multiple of 4
        rig = T.Rig(data, tcp=2, udp=1, cap=cap, keep=True, frame_max=40000)  # the tool's heap is 3.2 MB
        for _ in range(3):
            rig.frame()
        return ([b"".join(c.sock.got) for c in rig.tcp],
                [list(sk.got) for sk in rig.udp_socks])
    finally:
        fast.use(True)


def test_both_paths_send_the_same_bytes_with_partial_writes():
    a_tcp, a_udp = _streams(True, 0)
    for native, cap in ((True, 977), (False, 0), (False, 977)):
        tcp, udp = _streams(native, cap)
        assert tcp == a_tcp, (native, cap)
        assert udp == a_udp, (native, cap)
    assert a_tcp[0] == a_tcp[1] and len(a_tcp[0]) > 90000
    # every UDP datagram is one RTP packet: the TCP stream without its '$' headers
    assert b"".join(a_udp[0]) == b"".join(a_tcp[0][i + 4:i + 4 + ((a_tcp[0][i + 2] << 8)
                                                               | a_tcp[0][i + 3])]
                                          for i in _starts(a_tcp[0]))


def _starts(stream):
    i = 0
    while i < len(stream):
        yield i
        i += 4 + ((stream[i + 2] << 8) | stream[i + 3])


def test_rtcp_counts_wrap_at_2_32_without_heap_integers():
    s = Session()
    total_p = total_o = 0
    for _ in range(40):
        s.count(115, 160000000)
        total_p += 115
        total_o += 160000000
    assert s.counts() == (total_p & 0xFFFFFFFF, total_o & 0xFFFFFFFF)
    assert total_o > 1 << 32            # wrapped
    gc.collect()
    gc.disable()
    try:
        m0 = gc.mem_alloc()
        for _ in range(100):
            s.count(115, 160000000)
        assert gc.mem_alloc() == m0
    finally:
        gc.enable()
