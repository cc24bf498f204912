"""Benchmark of the RTSP streaming path in the real MicroPython interpreter.

    python -m tools.bench_send [--frames N]      (make bench-send)

For 720p JPEGs of the realistic scene (tools/sim/frames.py "photo") of about 60 KB and 150 KB,
and 1 or 4 viewers over TCP-interleaved or UDP,
rtspd (tools/rtsp_serve.py --bench) sends N frames as fast as loopback viewers take them.
Viewers here are CPython threads that drain their sockets. Printed per frame: CPU time of
the MicroPython process, heap bytes allocated (GC off while measuring), and per packet sent.
On a PC the unix port is far faster than the camera's 600 MHz Cortex-M7: compare rows with
each other, not with the camera. Integers >= 2**30 are heap objects on the camera but not
here, so the camera allocates a few more bytes per frame (RTP timestamps, counters).
"""
import argparse
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time

from tools import mpy

HOST = "127.0.0.1"
DRIVER = mpy.ROOT / "tools" / "rtsp_serve.py"


def make_jpegs(directory, target, n=4):
    """n distinct 1280x720 JPEGs of the realistic scene (tools/sim/frames.py "photo": a real
    photograph panned, with sensor noise), 4:2:2 in the camera's layout with the standard
    Huffman tables, at the quality that makes the first one about `target` bytes; returns
    their mean size."""
    from tools.sim import frames
    src = frames.open_source("photo")
    pics = [src.frame(1280, 720, i, i * 0.5) for i in range(n)]
    lo, hi = 5, 98                  # the lowest quality whose first frame reaches target
    while lo < hi:
        q = (lo + hi) // 2
        if len(frames.encode_jpeg(pics[0], q)) < target:
            lo = q + 1
        else:
            hi = q
    q = min((lo - 1, lo), key=lambda q: abs(len(frames.encode_jpeg(pics[0], q)) - target))
    sizes = []
    for i, pic in enumerate(pics):
        data = frames.encode_jpeg(pic, q)
        with open(os.path.join(directory, "f%d.jpg" % i), "wb") as f:
            f.write(data)
        sizes.append(len(data))
    return sum(sizes) // n


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Drain(threading.Thread):
    """A viewer that plays the stream and throws the data away as fast as it can."""

    def __init__(self, port, transport):
        super().__init__(daemon=True)
        self.port = port
        self.transport = transport
        self.stop = threading.Event()
        self.sock = socket.create_connection((HOST, port), timeout=10)
        self.udp = None
        url = "rtsp://%s:%d/stream" % (HOST, port)
        if transport == "udp":
            for _ in range(50):
                u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                u.bind((HOST, random.randrange(30000, 60000, 2)))
                self.udp = u
                break
            u.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            cp = u.getsockname()[1]
            tr = "RTP/AVP;unicast;client_port=%d-%d" % (cp, cp + 1)
        else:
            tr = "RTP/AVP/TCP;unicast;interleaved=0-1"
        r = self._ask("SETUP %s/trackID=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: %s\r\n\r\n" % (url, tr))
        sid = re.search(r"Session: ([^;\r]+)", r).group(1)
        self._ask("PLAY %s RTSP/1.0\r\nCSeq: 2\r\nSession: %s\r\n\r\n" % (url, sid))

    def _ask(self, text):
        self.sock.sendall(text.encode())
        got = b""
        while b"\r\n\r\n" not in got:
            d = self.sock.recv(4096)
            if not d:
                raise ConnectionError("server closed")
            got += d
        return got.split(b"\r\n\r\n")[0].decode()

    def run(self):
        s = self.udp or self.sock
        s.settimeout(0.5)
        buf = bytearray(1 << 20)
        while not self.stop.is_set():
            try:
                if not s.recv_into(buf):
                    return
            except socket.timeout:
                continue
            except OSError:
                return

    def close(self):
        self.stop.set()
        self.join(2)
        self.sock.close()
        if self.udp:
            self.udp.close()


def run_case(frames_dir, viewers, transport, count):
    port = free_port()
    cmd = [mpy.binary(), "-X", "heapsize=" + mpy.HEAP, str(DRIVER), frames_dir, "--port", str(port),
           "--auth", "none", "--fps", "0", "--bench", str(count), "--viewers", str(viewers),
           "--rtp-port", str(random.randrange(20000, 29000, 2)), "--max-clients", "4"]
    env = mpy.env([mpy.LIB, mpy.DEVICE])
    env.pop("SIM_BUS", None)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=str(mpy.ROOT))
    drains = []
    try:
        line = proc.stdout.readline()
        if not line.startswith("READY"):
            raise RuntimeError("server did not start: " + line + proc.stdout.read())
        for _ in range(viewers):
            d = Drain(port, transport)
            d.start()
            drains.append(d)
        out = []
        deadline = time.monotonic() + 120
        for line in proc.stdout:
            out.append(line)
            if line.startswith("BENCH"):
                break
            if time.monotonic() > deadline:
                break
        m = re.search(r"BENCH frames=(\d+) cpu_ms=(\d+) wall_ms=(\d+) alloc=(\d+) packets=(\d+) "
                      r"bytes=(\d+)", "".join(out))
        if not m:
            raise RuntimeError("benchmark failed:\n" + "".join(out))
        return [int(v) for v in m.groups()]
    finally:
        for d in drains:
            d.close()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=200, help="frames measured per case")
    args = ap.parse_args(argv)
    version = subprocess.run(
        [mpy.binary(), "-c", "import sys; print('%d.%d.%d' % sys.implementation.version[:3])"],
        capture_output=True, text=True).stdout.strip()
    print("rtspd streaming path, MicroPython %s unix port, 1280x720 JPEG 4:2:2, %d frames per case,"
          " every viewer gets every frame" % (version, args.frames))
    print()
    head = ("frame", "viewers", "transport", "packets/frame", "fps", "CPU ms/frame",
            "heap B/frame", "heap B/packet")
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    with tempfile.TemporaryDirectory() as tmp:
        for target in (60000, 150000):
            d = os.path.join(tmp, str(target))
            os.makedirs(d)
            avg = make_jpegs(d, target)
            for viewers in (1, 4):
                for transport in ("tcp", "udp"):
                    n, cpu, wall, alloc, packets, size = run_case(d, viewers, transport, args.frames)
                    sent = packets * viewers
                    print("| %d KB | %d | %s | %d | %.0f | %.2f | %.0f | %.2f |" % (
                        avg // 1000, viewers, transport.upper(), packets // n, n * 1000.0 / wall,
                        cpu / n, alloc / n, alloc / sent), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
