"""NTP servers for the time tests, on loopback only: a real chrony, and a small hostile one."""
import contextlib
import os
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

from tools.sim import storage

NTP_DELTA = 2208988800


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@contextlib.contextmanager
def chrony(workdir, port):
    """A real chronyd serving the local clock on 127.0.0.1:port (stratum 8)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "chrony.conf"
    conf.write_text(
        "port %d\nbindaddress 127.0.0.1\nlocal stratum 8\nallow 127.0.0.1\ncmdport 0\n"
        "bindcmdaddress /\ndriftfile %s\npidfile %s\n" % (port, workdir / "drift", workdir / "chronyd.pid"))
    args = [storage.tool("chronyd"), "-d", "-x", "-f", str(conf)]
    if os.geteuid() != 0:
        args.insert(2, "-U")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait_ntp(port, proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def query(port, timeout=0.5):
    """One NTP client query to 127.0.0.1:port; the server's transmit time (Unix seconds)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(b"\x1b" + bytes(47), ("127.0.0.1", port))
        data = s.recv(48)
    finally:
        s.close()
    return struct.unpack("!I", data[40:44])[0] - NTP_DELTA


def _wait_ntp(port, proc, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("chronyd exited: " + proc.stdout.read().decode(errors="replace"))
        try:
            query(port, 0.2)
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError("chronyd did not answer on port %d" % port)


class HostileNtp:
    """A UDP server on 127.0.0.1 answering NTP queries the way `mode` says:
    'silent' (never answers), 'garbage' (random bytes), 'short' (truncated), 'kod'
    (kiss-of-death: stratum 0, RATE, zero timestamps), 'offset:SECONDS' (a well-formed
    answer that far from the real time), 'good' (the real time)."""

    def __init__(self, mode="good"):
        self.mode = mode
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.queries = 0
        self._stop = False
        self._t = threading.Thread(target=self._serve, daemon=True)
        self._t.start()

    def _answer(self, query):
        mode = self.mode
        if mode == "silent":
            return None
        if mode == "garbage":
            return os.urandom(48)
        if mode == "short":
            return b"\x24\x02"
        pkt = bytearray(48)
        if mode == "kod":
            pkt[0] = 0xE4                 # LI alarm, version 4, server mode
            pkt[1] = 0                    # stratum 0: kiss-of-death
            pkt[12:16] = b"RATE"
            return bytes(pkt)
        now = time.time()
        if mode.startswith("offset:"):
            now += float(mode.split(":", 1)[1])
        pkt[0] = 0x24
        pkt[1] = 2
        pkt[24:32] = query[40:48]         # originate = client's transmit
        secs = int(now) + NTP_DELTA
        frac = int((now % 1) * 2**32)
        for off in (32, 40):              # receive and transmit timestamps
            struct.pack_into("!II", pkt, off, secs & 0xFFFFFFFF, frac)
        return bytes(pkt)

    def _serve(self):
        while not self._stop:
            try:
                data, addr = self.sock.recvfrom(512)
            except OSError:
                continue
            self.queries += 1
            reply = self._answer(data)
            if reply is not None:
                self.sock.sendto(reply, addr)

    def close(self):
        self._stop = True
        self._t.join(2)
        self.sock.close()
