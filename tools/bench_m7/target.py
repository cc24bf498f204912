# Runs ON the Cortex-M7 tool (MicroPython's qemu port, see tools/bench_m7/__main__.py): the
# instructions and heap bytes per 720p frame of rtspd's send path, machine code and plain
# Python, beside the minimal sender (minimal.py), all writing to stub sockets (the Rig of
# tests/firmware/rtspd_kit.py: RtspServer, viewers set up by SETUP/PLAY requests).
#   argv: JPEG files (on the ROMFS), then options: --repeat N
import sys
import gc
import m7

m7.install_stubs()              # rtspd imports socket and seeds from os.urandom
from rtspd import fast                  # noqa: E402  (after the stubs)
import minimal                          # noqa: E402
import rtspd_kit                        # noqa: E402  (tests/firmware/rtspd_kit.py: the Rig)

# (TCP viewers, UDP viewers, bytes a socket takes per write: 0 = all; 6400 = lwIP's TCP send
# buffer on the camera, so a frame goes out in many writes)
VIEWERS = ((1, 0, 0), (2, 0, 0), (4, 0, 0), (1, 0, 6400), (4, 0, 6400), (0, 1, 0))


def measure(fn, repeat):
    n = m7.measure(fn, repeat=repeat)
    return n, m7.last[0], m7.last[-1], m7.alloc(fn)


def case(name, data, native, tcp, udp, cap, repeat):
    fast.use(native)
    r = rtspd_kit.Rig(data, tcp, udp, cap=cap)
    r.frame()
    n, lo, hi, heap = measure(r.frame, repeat)
    print("ROW %s jpeg=%d path=%s tcp=%d udp=%d cap=%d packets=%d insn=%d min=%d max=%d heap=%d"
          % (name, r.size, "native" if native else "python", tcp, udp, cap, r.packets(), n, lo,
             hi, heap))
    r = None
    gc.collect()


def floor(name, data, repeat):
    fast.use(True)          # the minimal sender parses the JPEG with rtspd.jpeg, as rtspd does
    mm = minimal.Minimal(m7.stub_socket())
    buf = bytearray(len(data) + 1024)
    buf[0:len(data)] = data
    size = len(data)

    def frame():
        mm.send(buf, size)

    frame()
    n, lo, hi, heap = measure(frame, repeat)
    print("ROW %s jpeg=%d path=minimal tcp=1 udp=0 cap=0 packets=%d insn=%d min=%d max=%d heap=%d"
          % (name, size, mm.packets, n, lo, hi, heap))


def claims():
    """The facts the send path is built on, measured here: slice assignment into a memoryview
    over a whole slot moves the rest of the slot; a copy in viper costs far more per byte than
    C's; C copies whole words only when source and destination are both word-aligned."""
    import io
    import micropython
    slot = bytearray(200000)
    src = bytearray(1400)
    whole = memoryview(slot)
    win = memoryview(slot)[100:1480]            # a window made once
    sv = memoryview(src)[0:1380]

    def into_whole():
        whole[100:1480] = sv                    # memmoves the 198.5 KB after the slice

    def into_window():
        win[0:1380] = sv

    @micropython.viper
    def vcopy(dst: ptr8, s: ptr8, n: int):
        i = 0
        while i < n:
            dst[i] = s[i]
            i += 1

    st = io.BytesIO(4096)
    st.write(src)

    def rd(off, w):
        st.seek(off)
        st.readinto(w, 1380)

    print("CLAIM slice_into_whole_slot_memoryview %d" % m7.measure(into_whole))
    print("CLAIM slice_into_window %d" % m7.measure(into_window))
    print("CLAIM viper_byte_copy_1380 %d" % m7.measure(vcopy, win, src, 1380))
    print("CLAIM readinto_1380_aligned %d" % m7.measure(rd, 0, win))
    print("CLAIM readinto_1380_misaligned %d" % m7.measure(rd, 1, win))


def main():
    args = sys.argv[1:]
    repeat = 5
    if "--repeat" in args:
        i = args.index("--repeat")
        repeat = int(args[i + 1])
        del args[i:i + 2]
    for path in args:
        with open(path, "rb") as f:
            data = f.read()
        name = path.split("/")[-1]
        floor(name, data, repeat)
        for native in (True, False):
            for tcp, udp, cap in VIEWERS:
                case(name, data, native, tcp, udp, cap, repeat)
    fast.use(True)
    claims()
    print("DONE")


main()
