"""The camera app on the emulated WiFi link: what its viewers get (make bench).

    python -m tools.bench [--cases tcp1,tcp2,tcp4,udp1,stuck] [--modes fixed,adaptive]
                          [--seconds 10] [--warmup 4]

Starts the real app in the emulator (python -m tools.sim --net-model on --link-rate 600
--source photo --rtc host: lwIP's budget on a 600 kB/s link, a real photograph panned with
sensor noise, the camera's clock set from this PC's), 1280x720 hardware JPEG at quality 80,
once per mode: "fixed" (stream.target_fps 0: quality 80, frames as fast as they go) and
"adaptive" (stream.target_fps 10). Viewers are threads here speaking RTSP with tools/probe.py's
client. Cases: 1, 2 and 4 TCP-interleaved viewers, 1 UDP viewer, and "stuck": 3 TCP viewers of
which two stop reading at the same moment the measurement starts.

Measured over --seconds after --warmup, per case:
  fps        complete frames per second each viewer received
  latency    arrival of a frame's last packet minus its capture time, median and 95th
             percentile over every viewer's frames. The capture time is the frame's RTP
             timestamp mapped through the latest RTCP sender report to the camera's wall clock,
             which is this PC's (--rtc host, and no NTP sync: see camera_config)
  sending    of that, the part from the frame's first packet to its last (median)
  gap        the longest wait between two frames of one viewer (stuck: the healthy viewer's)
  loop       the longest pass of the camera loop (GET_PARAMETER loop_max_ms, asked every 0.5 s;
             ">=" when the asking viewer's connection failed: an answer may have gone with it)
  quality    the JPEG quality in use (GET_PARAMETER quality): lowest-highest seen
  capture    frames captured per second (GET_PARAMETER frames)
A value the app does not answer yet shows as "-". The machine's other load shows in the
figures: run it on an otherwise idle PC.
"""
import argparse
import json
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tools import mpy, probe
from tests.rtsp_support import free_port

USER, PASSWORD = "admin", "bench-Pa55word"
ASK_S = 0.5                     # GET_PARAMETER period of the asking viewer
TIMEOUT = 10.0
CASES = {                       # name: (transport, viewers, how many of them stop reading)
    "tcp1": ("tcp", 1, 0), "tcp2": ("tcp", 2, 0), "tcp4": ("tcp", 4, 0),
    "udp1": ("udp", 1, 0), "stuck": ("tcp", 3, 2)}
MODES = {"fixed": 0, "adaptive": 10}         # stream.target_fps
ASK = ("loop_max_ms", "quality", "frames")


# -- the camera --------------------------------------------------------------------------------
def camera_config(target_fps):
    """The shipped config.json for the bench's network, 720p hardware JPEG q80, one mode."""
    cfg = json.loads((mpy.ROOT / "config.json").read_text())
    cfg["wifi"]["ssid"] = "benchnet"
    cfg["rtsp"]["password"] = PASSWORD
    # A name that never resolves: the camera never syncs, so its RTC stays this PC's clock
    # (--rtc host) and the latencies can be read from its sender reports. A sync sets the RTC
    # in whole seconds (lib/timesync.py): up to half a second off this PC's clock. While a
    # viewer watches the app asks no DNS (lib/timesync.py), so the loop never waits for it.
    cfg["time"]["ntp_servers"] = ["ntp.invalid"]
    cfg["camera"].update(mode="hardware_jpeg", framesize="HD", quality=80)
    if "stream" in cfg:
        cfg["stream"]["target_fps"] = target_fps
    elif target_fps:
        return None             # this app has no adaptive frame size yet
    return cfg


class Camera:
    """python -m tools.sim with the network model, its output collected line by line."""

    def __init__(self, workdir, cfg):
        cfg_file = Path(workdir) / "config.json"
        cfg_file.write_text(json.dumps(cfg, indent=1))
        self.port = free_port()
        cmd = [sys.executable, "-m", "tools.sim", "--port", str(self.port),
               "--http-port", str(free_port()), "--config", str(cfg_file),
               "--workdir", str(Path(workdir) / "run"), "--net-model", "on",
               "--link-rate", "600", "--source", "photo", "--rtc", "host"]
        self.lines = []
        self.url = None
        self._ready = threading.Event()
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, cwd=str(mpy.ROOT), start_new_session=True)
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(90) or not self.url:
            self.stop()
            raise RuntimeError("the camera did not start:\n" + "\n".join(self.lines[-30:]))

    def _read(self):
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            if line.startswith("rtsp://") and not self.url:
                self.url = line.strip()
                self._ready.set()
            elif line.startswith("board: stopped") or "ended unexpectedly" in line:
                self._ready.set()           # no need to wait for a camera that is gone
        self._ready.set()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)       # the emulator stops its board
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)   # the group this bench started
                self.proc.wait(5)


# -- a viewer ----------------------------------------------------------------------------------
class Frames(probe.Receiver):
    """probe's RTP/JPEG receiver, keeping each frame's size and every sender report."""

    def __init__(self):
        super().__init__(time.time())
        self.sizes = []
        self.firsts = []        # arrival of each complete frame's first packet
        self.srs = []           # (arrival, camera wall time, RTP timestamp)
        self._ts = self._first = None

    def rtp(self, data, now):
        if len(data) >= 8 and data[4:8] != self._ts:
            self._ts, self._first = data[4:8], now
        super().rtp(data, now)

    def _end_frame(self, now=None):
        before = self.s.jpeg_bytes
        n = self.s.frames
        super()._end_frame(now)
        if self.s.frames > n:
            self.sizes.append(self.s.jpeg_bytes - before)
            self.firsts.append(self._first)

    def rtcp(self, data, now_wall):
        super().rtcp(data, now_wall)
        if len(data) >= 20 and data[1] == 200:          # a compound packet starts with the SR
            sec, frac, rtp = struct.unpack_from(">III", data, 8)
            self.srs.append((now_wall, sec - probe.NTP_EPOCH + frac / 2 ** 32, rtp))

    def capture_time(self, ts, arrival):
        """The camera's wall-clock time of RTP timestamp ts, through the latest sender report
        that arrived before the frame (or the first one)."""
        sr = self.srs[0]
        for s in self.srs:
            if s[0] > arrival:
                break
            sr = s
        d = (ts - sr[2]) & 0xFFFFFFFF
        if d >= 0x80000000:
            d -= 0x100000000
        return sr[1] + d / 90000.0


class Viewer(threading.Thread):
    """Plays the stream (TCP interleaved or UDP) and records when each frame's last packet
    arrived; `ask` keys are asked with GET_PARAMETER every ASK_S; `stuck` stops reading."""

    def __init__(self, url, transport, ask=(), rcvbuf=None):
        super().__init__(daemon=True)
        self.rx = Frames()
        self.ask = list(ask)
        self.answers = []           # (time, key, value)
        self.missing = set()        # keys the app does not answer
        self.stuck = threading.Event()
        self.done = threading.Event()
        self.error = None
        self.udp = None
        self.channels = (0, 1)
        self.conn = probe.Connection(probe.parse_url(url, USER, PASSWORD), TIMEOUT)
        if rcvbuf:      # a small window: a viewer that stops reading stops taking at once
            self.conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        try:
            self._play(transport)
        except Exception:
            self.close()
            raise

    def _play(self, transport):
        c = self.conn
        url = c.t.url
        desc = probe._check(c.request("DESCRIBE", url, {"Accept": "application/sdp"}), "DESCRIBE")
        self.base = desc.headers.get("content-base") or url
        track, _ = probe.parse_sdp(desc.body.decode("utf-8", "replace"), self.base)
        if transport == "udp":
            self.udp = probe._udp_pair()
            self.udp[0].setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            want = "RTP/AVP;unicast;client_port=%d-%d" % tuple(s.getsockname()[1] for s in self.udp)
        else:
            want = "RTP/AVP/TCP;unicast;interleaved=0-1"
        r = probe._check(c.request("SETUP", track, {"Transport": want}), "SETUP")
        c.session = (r.headers.get("session") or "").split(";")[0].strip() or None
        for part in r.headers.get("transport", "").split(";"):
            if part.startswith("interleaved="):
                a, _, b = part[12:].partition("-")
                self.channels = (int(a), int(b or int(a) + 1))
        c.on_data = self._on_data
        probe._check(c.request("PLAY", self.base, {"Range": "npt=0.000-"}), "PLAY")

    def _on_data(self, channel, payload):
        now = time.time()
        if channel == self.channels[0]:
            self.rx.rtp(payload, now)
        elif channel == self.channels[1]:
            self.rx.rtcp(payload, now)

    def run(self):
        due = time.monotonic()
        try:
            while not self.done.is_set():
                if self.stuck.is_set():
                    self.done.wait(0.05)
                    continue
                if self.ask and time.monotonic() >= due:
                    self._ask()
                    due += ASK_S
                probe._pump(self.conn, self.udp, self._on_data,
                            min(due if self.ask else 1e18, time.monotonic() + 0.2))
        except (probe.ProbeError, probe.StreamEnded, OSError) as e:
            self.error = "%s: %s" % (type(e).__name__, e)

    def _ask(self):
        for key in list(self.ask):
            r = self.conn.request("GET_PARAMETER", self.base, {"Content-Type": "text/parameters"},
                                  deadline=time.monotonic() + 30, body=(key + "\r\n").encode())
            if r.status != 200:
                self.ask.remove(key)
                self.missing.add(key)
                continue
            for line in r.body.decode("utf-8", "replace").splitlines():
                k, _, v = line.partition(":")
                if k.strip() == key:
                    self.answers.append((time.time(), key, float(v)))

    def frames(self, t0, t1):
        """[(arrival, latency, bytes, sending)] of the frames whose last packet arrived in
        [t0, t1]; sending: from the first packet's arrival to the last's."""
        rx = self.rx
        return [(t, t - rx.capture_time(ts, t) if rx.srs else None, n, t - t_first)
                for t, ts, n, t_first in zip(rx.frame_times, rx.frame_ts, rx.sizes, rx.firsts)
                if t0 <= t <= t1]

    def close(self):
        self.done.set()
        if self.is_alive():
            self.join(3)
        if not (self.stuck.is_set() or self.error or self.is_alive()):
            try:
                self.conn.request("TEARDOWN", self.base, deadline=time.monotonic() + 2)
            except (probe.ProbeError, OSError, AttributeError):
                pass                # the figures do not depend on the goodbye
        self.conn.close()
        for s in self.udp or ():
            s.close()


# -- a case ------------------------------------------------------------------------------------
def run_case(url, name, seconds, warmup):
    transport, n, n_stuck = CASES[name]
    viewers = []
    try:
        for i in range(n):
            v = Viewer(url, transport, ask=ASK if i == 0 else (),
                       rcvbuf=8192 if i >= n - n_stuck else None)
            v.start()
            viewers.append(v)
        time.sleep(warmup)
        t0 = time.time()
        for v in viewers[n - n_stuck:]:            # both at the same moment
            v.stuck.set()
        time.sleep(seconds)
        t1 = time.time()
        v = viewers[0]
        if not _next_answer(v, t1) and not v.missing:
            _ask_once(url, v)          # the loop's longest pass, capture: on a new connection
        return measure(viewers, n - n_stuck, t0, t1)
    finally:
        for v in viewers:
            v.close()


def _next_answer(v, t1, limit=15.0):
    """Wait for the asking viewer's first answers after t1: they cover the loop passes up to
    t1 (the camera loop may be blocked, answering late)."""
    end = time.monotonic() + limit
    while v.is_alive() and time.monotonic() < end and v.ask:
        if any(t > t1 and k == v.ask[-1] for t, k, _ in v.answers):
            return True
        time.sleep(0.05)
    return False


def _ask_once(url, v):
    """GET_PARAMETER loop_max_ms and frames on a new connection (the asking viewer failed or
    waits), into v.answers."""
    try:
        c = probe.Connection(probe.parse_url(url, USER, PASSWORD), TIMEOUT)
    except probe.ProbeError:
        return
    try:
        r = c.request("GET_PARAMETER", c.t.url, {"Content-Type": "text/parameters"},
                      deadline=time.monotonic() + 30, body=b"loop_max_ms\r\nframes\r\n")
        for line in r.body.decode("utf-8", "replace").splitlines() if r.status == 200 else ():
            k, _, val = line.partition(":")
            v.answers.append((time.time(), k.strip(), float(val)))
    except (probe.ProbeError, OSError, ValueError):
        pass
    finally:
        c.close()


def measure(viewers, healthy, t0, t1):
    span = t1 - t0
    frames = [v.frames(t0, t1) for v in viewers]
    lat = sorted(d for f in frames[:healthy] for _, d, _, _ in f if d is not None)
    sending = [x[3] for f in frames[:healthy] for x in f]
    gaps = []
    for f in frames[:healthy]:
        times = [t0] + [x[0] for x in f] + [t1]
        gaps.append(max(b - a for a, b in zip(times, times[1:])))
    ctl = viewers[0]
    ans = {k: [(t, v) for t, kk, v in ctl.answers if kk == k] for k in ASK}
    loop = _window(ans["loop_max_ms"], t0 + ASK_S, t1)
    quality = [v for t, v in ans["quality"] if t0 <= t <= t1]
    # frames captured from the last count before t0 to the first after t1
    got = [a for a in ans["frames"] if a[0] <= t0][-1:] + [a for a in ans["frames"] if a[0] >= t1][:1]
    sizes = [x[2] for f in frames[:healthy] for x in f]
    return {
        "fps": [len(f) / span for f in frames],
        "lat_med": _pct(lat, 50), "lat_p95": _pct(lat, 95),
        "sending": statistics.median(sending) if sending else None,
        "gap": max(gaps) if gaps else None,
        "loop": max(loop) if loop else None,
        "loop_lost": bool(ctl.error),     # an answer may have gone with its connection
        "quality": (min(quality), max(quality)) if quality else None,
        "capture": (got[-1][1] - got[0][1]) / (got[-1][0] - got[0][0]) if len(got) > 1 else None,
        "kb": statistics.mean(sizes) / 1000 if sizes else None,
        "errors": [v.error for v in viewers if v.error and not v.stuck.is_set()],
        "missing": sorted(ctl.missing),
    }


def _window(answers, t0, t1):
    """The values answered in [t0, t1] and the first one after t1."""
    inside = [v for t, v in answers if t0 <= t <= t1]
    return inside + [v for t, v in answers if t > t1][:1]


def _pct(values, p):
    if not values:
        return None
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


# -- the table ---------------------------------------------------------------------------------
HEAD = ("mode", "viewers", "fps per viewer", "latency median / p95 ms", "sending ms", "longest gap ms",
        "longest loop ms", "quality", "capture fps", "KB/frame")
LABELS = {"tcp1": "1 TCP", "tcp2": "2 TCP", "tcp4": "4 TCP", "udp1": "1 UDP",
          "stuck": "3 TCP, 2 stop reading"}


def row(mode, name, r):
    f = lambda v, fmt: "-" if v is None else fmt % v               # noqa: E731
    fps = " / ".join("%.1f" % x for x in r["fps"])
    q = "-" if r["quality"] is None else ("%d" % r["quality"][0] if r["quality"][0] == r["quality"][1]
                                          else "%d-%d" % r["quality"])
    lat = "-" if r["lat_med"] is None else "%.0f / %.0f" % (r["lat_med"] * 1000, r["lat_p95"] * 1000)
    return "| " + " | ".join((
        mode, LABELS[name], fps, lat, f(r["sending"] and r["sending"] * 1000, "%.0f"),
        f(r["gap"] and r["gap"] * 1000, "%.0f"),
        f(r["loop"], ">= %.0f" if r["loop_lost"] else "%.0f"),
        q, f(r["capture"], "%.1f"), f(r["kb"], "%.0f"))) + " |"


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default=",".join(CASES), help="comma-separated, of: " + ", ".join(CASES))
    ap.add_argument("--modes", default=",".join(MODES), help="comma-separated, of: " + ", ".join(MODES))
    ap.add_argument("--seconds", type=float, default=10.0, help="measured seconds per case (10)")
    ap.add_argument("--warmup", type=float, default=4.0, help="seconds played before (4)")
    a = ap.parse_args(argv)
    cases = [c for c in a.cases.split(",") if c]
    modes = [m for m in a.modes.split(",") if m]
    bad = [c for c in cases if c not in CASES] + [m for m in modes if m not in MODES]
    if bad:
        ap.error("unknown case or mode: " + ", ".join(bad))
    cases.sort(key=lambda c: c == "stuck")         # stuck viewers last: they may hold a PCB
    print("The app on the emulator: 600 kB/s link (lwIP model), photo scene, 1280x720 hardware "
          "JPEG, camera.quality 80; %.0f s per case after %.0f s of play" % (a.seconds, a.warmup))
    print()
    print("| " + " | ".join(HEAD) + " |")
    print("|" + "|".join("---" for _ in HEAD) + "|", flush=True)
    notes = []
    for mode in modes:
        cfg = camera_config(MODES[mode])
        if cfg is None:
            notes.append("%s: skipped, config.json has no \"stream\" section" % mode)
            continue
        with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
            cam = Camera(tmp, cfg)
            try:
                for name in cases:
                    r = run_case(cam.url, name, a.seconds, a.warmup)
                    print(row(mode, name, r), flush=True)
                    for e in r["errors"]:
                        notes.append("%s %s: a viewer failed: %s" % (mode, name, e))
                    if r["missing"]:
                        notes.append("%s: the app does not answer GET_PARAMETER %s"
                                     % (mode, ", ".join(r["missing"])))
                    time.sleep(2)                  # the closed connections' PCBs come back
            finally:
                cam.stop()
    for n in dict.fromkeys(notes):
        print("note: " + n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
