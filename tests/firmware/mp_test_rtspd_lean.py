# rtspd's lean mode (firmware 4.5.0-4.5.5: one 280 KB GC heap): frame slots and connection
# buffers in memory the caller provides (alloc=; on the camera frame-buffer memory outside the
# heap, sensor.alloc_extra_fb) and a
# staging copy much smaller than a frame, refilled as the packets are cut. The bytes on the
# wire are the same as with heap slots and a whole-frame stage, on both send paths, and
# nothing is allocated per packet. Stub sockets: runs on the unix port and the Cortex-M7 tool.
import gc
from rtspd import fast
from rtspd.stream import slot_bytes
import rtspd_kit as T

FRAME_MAX = 40000


def _ext(n):
    # memory that is not a bytearray of its own: a window into a larger block, as the
    # firmware's bytearray over frame-buffer memory is to the app
    return memoryview(bytearray(n + 64))[32:32 + n]


class _Alloc:
    def __init__(self):
        self.given = []

    def __call__(self, n):
        b = _ext(n)
        self.given.append(b)
        return b


def _lean(data, native, cap=0, keep=False, tcp=2, udp=1):
    return T.Rig(data, tcp=tcp, udp=udp, cap=cap, keep=keep, frame_max=FRAME_MAX,
                 alloc=_Alloc(), stage=4096)


def _run(native, lean, cap):
    fast.use(native)
    try:
        data, _ = T.make(scan=T.scan_bytes(30000, seed=5), dri=16, y=0x22,
                         extra=T.seg(0xE1, b"ab"))    # scan offset not a multiple of 4
        if lean:
            rig = _lean(data, native, cap=cap, keep=True)
        else:
            rig = T.Rig(data, tcp=2, udp=1, cap=cap, keep=True, frame_max=FRAME_MAX)
        for _ in range(3):
            rig.frame()
        return ([b"".join(c.sock.got) for c in rig.tcp], [list(sk.got) for sk in rig.udp_socks])
    finally:
        fast.use(True)


def test_caller_slots_and_a_small_stage_send_the_same_bytes():
    ref = _run(True, False, 0)
    assert len(ref[0][0]) > 90000
    for native, cap in ((True, 0), (False, 0), (False, 977), (True, 977)):
        got = _run(native, True, cap)
        assert got == ref, (native, cap)
        got = None
        gc.collect()


def test_slots_and_connection_buffers_live_in_the_callers_memory():
    data, _ = T.make(scan=T.scan_bytes(5000))
    al = _Alloc()
    rig = T.Rig(data, frame_max=FRAME_MAX, alloc=al, stage=4096)
    rig.frame()
    st = rig.srv._stream
    given = al.given
    for sl in st.slots:
        assert any(sl.buf is g for g in given) and len(sl.buf) == slot_bytes(FRAME_MAX)
    sl = st.slots[st.newest]
    assert sl.buf[sl.base] == 0x24 and sl.size > 5000     # the packets are in the given buffer
    for c in rig.srv._conns:
        for b in (c.rx, c.out, c.pend):
            assert any(b is g for g in given)
    # the requests the viewers made were read into, and answered from, the given buffers
    assert rig.tcp[0].session is not None


def test_a_slot_too_small_for_frame_max_is_refused():
    try:
        T.Rig(b"", frame_max=FRAME_MAX, alloc=lambda n: bytearray(min(n, FRAME_MAX)))
    except ValueError:
        return
    assert False, "a buffer smaller than slot_bytes(frame_max) was taken"


def _alloc(native, scan_len):
    fast.use(native)
    try:
        data, _ = T.make(scan=T.scan_bytes(scan_len, seed=7), dri=16)
        rig = _lean(data, native)
        rig.frame()
        rig.frame()
        gc.collect()
        gc.disable()
        try:
            m0 = gc.mem_alloc()
            for _ in range(6):
                rig.frame()
            return (gc.mem_alloc() - m0) // 6, rig.packets()
        finally:
            gc.enable()
    finally:
        fast.use(True)


def _no_alloc_per_packet(native):
    a_small, n_small = _alloc(native, 2000)
    a_big, n_big = _alloc(native, 38000)       # ~10 refills of the 4 KB stage per frame
    print("lean %s path: heap B/frame %d (%d packets), %d (%d packets)" % (
        "native" if native else "python", a_small, n_small, a_big, n_big))
    assert n_big - n_small > 25
    assert a_big <= a_small, (a_small, a_big)
    assert a_big <= 256, a_big


def test_lean_python_path_allocates_nothing_per_packet():
    _no_alloc_per_packet(False)


def test_lean_native_path_allocates_nothing_per_packet():
    _no_alloc_per_packet(True)
