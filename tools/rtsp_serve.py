# A MicroPython driver for rtspd without the emulator: serves JPEG files from a directory as
# a live stream, paced at --fps, the way main.py drives the server on the camera.
#
#   MICROPYPATH=lib:tools/sim/device:.frozen RTSP_PASSWORD=secret \
#       micropython -X heapsize=8M tools/rtsp_serve.py DIR [--port 8554] [--fps 30] ...
#
# The password comes from the RTSP_PASSWORD environment variable, never the command line.
# Prints one line per event on stdout ("READY port=...", "EVENT first_play None", ...).
# --debug answers GET_PARAMETER keys rtspd.mem (heap bytes in use after a collection),
# rtspd.sessions, rtspd.conns, rtspd.sockets (open sockets) and rtspd.stats, and prints the
# server's log lines ("LOG WARNING rtspd: ...").
# --native off: the plain-Python send path (rtspd.fast.use(False)), as on a camera where
# native code is not trusted; READY says code=native or code=python.
# --bench N (used by tools/bench_send.py): keep the JPEGs in memory, wait for --viewers viewers,
# then send N frames as fast as they take them and print one line
#   BENCH frames=N cpu_ms=... wall_ms=... alloc=... packets=... bytes=...
# (CPU time of this process from /proc/self/stat; heap bytes allocated with the GC off).
import sys
import os
import gc

if not os.getenv("SIM_BUS"):
    # Without the emulator there is no board to read the RTC from: use the host clock.
    class _HostRtc:
        @staticmethod
        def now():
            import utime
            return int(utime.time())

    sys.modules["_rtc"] = _HostRtc

import time
from rtspd import RtspServer

OPTS = {"--port": 8554, "--fps": 30, "--path": "/stream", "--auth": "digest", "--user": "admin",
        "--max-clients": 4, "--timeout": 60, "--expire-ms": -1, "--idle-ms": 20000,
        "--stall-ms": 5000, "--rtp-port": 6970, "--lag-ms": 1000, "--frame-max": 262144,
        "--width": 1280, "--height": 720, "--debug": 0, "--frames": 0, "--bench": 0,
        "--viewers": 1, "--native": "on"}


def parse_args(argv):
    opts = dict(OPTS)
    args = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in opts:
            if a == "--debug":
                opts[a] = 1
                i += 1
                continue
            v = argv[i + 1]
            opts[a] = v if isinstance(OPTS[a], str) else int(v)
            i += 2
        else:
            args.append(a)
            i += 1
    if len(args) != 1:
        print("usage: rtsp_serve.py DIR [options]; options:", " ".join(sorted(OPTS)))
        sys.exit(2)
    return args[0], opts


def load_names(d):
    names = sorted(n for n in os.listdir(d) if n.lower().endswith((".jpg", ".jpeg")))
    if not names:
        print("no JPEG files in", d)
        sys.exit(2)
    return [d + "/" + n for n in names]


def say(*a):
    print(*a)
    try:
        sys.stdout.flush()
    except AttributeError:
        pass


def debug_log():
    # the firmware's logging module (frozen on the camera; tools/sim/device here) on stdout
    import logging
    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="LOG %(levelname)s %(message)s")
    return logging.getLogger("rtspd")


def main():
    d, o = parse_args(sys.argv[1:])
    names = load_names(d)
    from rtspd import fast
    fast.use(o["--native"] != "off")        # off: the plain-Python send path (no machine code)
    srv = RtspServer(port=o["--port"], path=o["--path"], max_clients=o["--max-clients"],
                     auth=o["--auth"], user=o["--user"], password=os.getenv("RTSP_PASSWORD"),
                     session_timeout=o["--timeout"], width=o["--width"], height=o["--height"],
                     fps=o["--fps"], expire_ms=None if o["--expire-ms"] < 0 else o["--expire-ms"],
                     idle_ms=o["--idle-ms"], stall_ms=o["--stall-ms"], rtp_port=o["--rtp-port"],
                     lag_ms=o["--lag-ms"], frame_max=o["--frame-max"],
                     log=debug_log() if o["--debug"] else None)
    srv.on_event = lambda name, arg: say("EVENT", name, arg)
    if o["--debug"]:
        srv.get_param = lambda key: debug_param(srv, key)
    buf = bytearray(o["--frame-max"] + 1024)
    srv.start("0.0.0.0")
    say("READY port=%d path=%s frames=%d code=%s" % (o["--port"], o["--path"], len(names),
                                                     "native" if fast.NATIVE else "python"))
    if o["--bench"]:
        bench(srv, names, o["--bench"], o["--viewers"])
        srv.stop()
        return
    period = 1000 // o["--fps"] if o["--fps"] > 0 else 0
    due = time.ticks_ms()
    k = 0
    sent = 0
    while o["--frames"] <= 0 or sent < o["--frames"]:
        now = time.ticks_ms()
        if srv.wants_frame() and time.ticks_diff(now, due) >= 0:
            n = read_jpeg(names[k % len(names)], buf)
            try:
                if srv.send_frame(buf, n, now):
                    sent += 1
            except ValueError as e:
                say("REFUSED", names[k % len(names)], e)
            k += 1
            due = time.ticks_add(due, period)
            if time.ticks_diff(now, due) > period:
                due = now           # we fell behind (nobody wanted frames): no burst
        wait = time.ticks_diff(due, time.ticks_ms())
        srv.poll(wait if 0 < wait < 50 else (0 if wait <= 0 and srv.wants_frame() else 20))
    srv.stop()
    say("DONE")


def cpu_ms():
    with open("/proc/self/stat") as f:
        fields = f.read().split(")")[-1].split()
    return (int(fields[11]) + int(fields[12])) * 10      # utime + stime, 100 Hz ticks


def all_done(srv):
    for s in srv._sessions:
        if s.state == 2 and s.cur >= 0:
            return False
    return True


def bench(srv, names, count, viewers):
    jpegs = []
    for n in names[:4]:
        with open(n, "rb") as f:
            jpegs.append(f.read())
    deadline = time.ticks_add(time.ticks_ms(), 30000)
    while srv.playing < viewers:
        srv.poll(20)
        if time.ticks_diff(deadline, time.ticks_ms()) < 0:
            say("BENCH-ERROR viewers did not come")
            return

    def run(n):
        k = 0
        packets = 0
        size = 0
        while k < n:
            if srv.wants_frame() and all_done(srv):     # every viewer gets every frame
                j = jpegs[k % len(jpegs)]
                srv.send_frame(j, len(j), time.ticks_ms())
                sl = srv._stream.slots[srv._stream.newest]
                packets += sl.npk
                size += len(j)
                k += 1
            else:
                srv.poll(1)
        return packets, size

    run(10)                         # warm up: first allocations, socket buffers
    gc.collect()
    c0 = cpu_ms()
    gc.disable()
    m0 = gc.mem_alloc()
    t0 = time.ticks_ms()
    packets, size = run(count)
    t1 = time.ticks_ms()
    m1 = gc.mem_alloc()
    gc.enable()
    c1 = cpu_ms()
    st = srv.stats()
    say("BENCH frames=%d cpu_ms=%d wall_ms=%d alloc=%d packets=%d bytes=%d viewers=%d "
        "skipped=%d" % (count, c1 - c0, time.ticks_diff(t1, t0), m1 - m0, packets, size,
                        srv.playing, st["skipped"]))


def read_jpeg(name, buf):
    with open(name, "rb") as f:
        return f.readinto(buf)


def debug_param(srv, key):
    if key == "rtspd.mem":
        gc.collect()
        return str(gc.mem_alloc())
    st = srv.stats()
    if key == "rtspd.sessions":
        return str(st["sessions"])
    if key == "rtspd.conns":
        return str(st["clients"])
    if key == "rtspd.sockets":
        import socket
        return str(len(getattr(socket, "_open", ())))
    if key == "rtspd.stats":
        return " ".join("%s=%s" % kv for kv in sorted(st.items()))
    return None


main()
