"""The emulated OpenMV Cam RT1062 board.

The board outlives the MicroPython process, as the hardware outlives the VM: it keeps the
RTC, the storage images, the WiFi access point and the LED, and it (re)starts the firmware
process for power-on, resets, watchdog bites and deep-sleep wakes. Every board event is
recorded (and printed one line each when `echo` is on) so tests and users can follow it.
"""
import json
import os
import random
import socket
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from tools import mpy
from tools.appfiles import app_files

from . import profiles, storage, wifi
from .bus import BusServer
from .camera import FB_POOL_BYTES, CameraModel
from .console import say_line

# machine.reset_cause() values (ports/mimxrt/modmachine.c); 4 is DEEPSLEEP_RESET
PWRON_RESET, WDT_RESET, DEEPSLEEP_RESET, SOFT_RESET = 1, 3, 4, 5
CAUSE_NAMES = {PWRON_RESET: "power-on", WDT_RESET: "watchdog", DEEPSLEEP_RESET: "deep-sleep wake",
               SOFT_RESET: "soft"}
TICKS_PERIOD = 1 << 30         # ticks_ms wraps here on the 32-bit camera
RTC_LOST = 1381780391          # 2013-10-14 19:53:11 UTC: what the RTC reads after power loss
                               # (ports/mimxrt/machine_rtc.c machine_rtc_start, OpenMV's fork
                               # openmv-1.24.0/1.25.0: set when the SRTC reads 1970 or earlier)
HEAP_BYTES = 8 * 1024 * 1024   # the camera's GC heap when the profile does not say
# What the emulator's own modules need beside the app's heap (they are C on the camera, Python
# here): about 100 KB of objects, spread with the holes importing them leaves over about 270 KB
# (tools/sim/device/_heap.py keeps them all out of the app's piece); the process gets this much
# on top, with room to spare (a shortfall is a MemoryError at boot, before boot.py).
EMULATOR_HEAP = 512 * 1024
# The app's own objects are larger here (64-bit unix port: 8-byte words, 16-byte GC blocks)
# than on the camera (32-bit): the same imports plus the camera loop's servers in lean mode
# (RtspServer with a 16 KB stage, WebServer without frame slots) hold 386,304 bytes on the
# unix port and 316,576 on the Cortex-M7 tool (../shared/tools/cortex-m7, MicroPython's qemu
# port): 1.22. Frame-sized bytearrays are the same size on both, so the factor applies only to
# the first CODE_HEAP bytes of the heap, what code and objects fill; rounded down (1.2), so the
# emulated app has less room than the camera's, never more.
HEAP_FACTOR_32 = 1.2
CODE_HEAP = 320 * 1024


def firmware_names():
    """Every name --firmware / Options.firmware takes: the short ones and the full versions."""
    return sorted(profiles.ALIASES) + profiles.names()


def fact(profile, name, default=None):
    """The value of one of the profile's behaviour facts (default when it has none)."""
    return profile.get("facts", {}).get(name, {}).get("value", default)


def gc_blocks_bytes(region_bytes, block=16):
    """What gc.mem_free() can ever show of a heap region: gc_init/gc_add give each region its
    allocation table (2 bits a block), finaliser table (1 bit a block) and a gap byte, the
    rest is blocks of 16 bytes on the 32-bit camera (32 on the 64-bit unix port).
    source: py/gc.c gc_setup_area (MICROPY_ENABLE_FINALISER) in OpenMV's MicroPython fork"""
    atb = (region_bytes - 1) * 8 // (8 + 8 * 4 // 8 + 8 * 4 * block)
    return atb * 4 * block


def app_heap_bytes(profile):
    """The app's GC heap at boot on this firmware, as gc.mem_free() reads it: the blocks of its
    regions (280 KB of DTCM alone up to 4.5.5, about 8.2 MB from 4.5.6), scaled for the 64-bit
    port's larger objects (HEAP_FACTOR_32). The emulator gives the app exactly this much, in
    one piece (tools/sim/device/_heap.py)."""
    regions = fact(profile, "gc_heap_regions") or [["SDRAM", HEAP_BYTES]]
    total = sum(gc_blocks_bytes(size) for _, size in regions)
    return total + int(min(total, CODE_HEAP) * (HEAP_FACTOR_32 - 1))


def heap_bytes(profile):
    """MicroPython's -X heapsize for this firmware: the frame-buffer pool, the app's heap and
    the emulator's own modules, plus the unix port's GC tables (gc_setup_area, 32-byte blocks)."""
    blocks = FB_POOL_BYTES + app_heap_bytes(profile) + EMULATOR_HEAP
    return blocks * (8 + 4 + 8 * 4 * 32) // (8 * 4 * 32) + 4096


@dataclass
class Options:
    firmware: str = "5.0"          # a profile: short ("4.7") or full ("4.7.0") version
    profile: dict = None           # a profile dict instead (tests of the emulator itself)
    app_dir: Path = mpy.ROOT
    workdir: Path = mpy.ROOT / "run"
    config: Path = None            # None: the app's own config.json
    sd_image: Path = None          # None: a fresh card in workdir
    sd_fault: str = "none"
    sd_size_mb: int = 512           # a small real card; the app keeps stills.min_free_mb free
    flash_size_mb: int = 8
    wifi_fault: str = "none"
    rtsp_port: int = None          # host port that serves the camera's RTSP port (554); None:
                                   # a free one (boards in parallel tests never collide); the
                                   # CLI asks for 8554
    camera_rtsp_port: int = 554
    http_port: int = None          # host port that serves the camera's web port (80); None: a
                                   # free one; the CLI asks for 8080
    camera_http_port: int = 80
    ntp_port: int = None           # None: the camera's port 123
    time_scale: float = 1.0        # deep-sleep seconds last time_scale real seconds
    fps: float = 30.0
    source: str = "synthetic"
    rtc: str = "lost"              # "lost" (reads 2013 like after a power loss) or "host"
    run_boot_py: bool = True       # False: main.py starts without boot.py, as from OpenMV IDE
    echo: bool = True
    printer: object = None         # callable(kind, text) printing events (kind None: a console
                                   # line) instead of echo's one line each: tools/sim/console.py
    serial: bool = False           # offer the USB serial REPL on a pty (tools/sim/serial.py)
    ticks_start_ms: int = None     # ticks_ms() at every hardware boot (None: 0, the camera's)
    native_fault: bool = False     # the first call of imported native code hangs the core
                                   # until the watchdog resets it (device/_native_fault.py)
    # The camera's network stack on the app's sockets (tools/sim/device/_lwip.py): PCB pools,
    # send buffers drained at the WiFi link's rate, shared packet memory, blocking DNS
    net_model: bool = False
    link_rate: int = 600000        # bytes/s up the WiFi link (lwipopts_common.h: ~600 kB/s)
    link_rtt_ms: float = 2.0       # round-trip time to the viewer
    link_loss: float = 0.0         # fraction of frames the radio loses
    dns: str = "host"              # "host": names the PC resolves; "none": DNS never answers
    net_trace: bool = False        # print the model's stalls and refusals on the console
    extra_env: dict = field(default_factory=dict)


class Board:
    def __init__(self, options=None, **kw):
        self.opt = options or Options(**kw)
        self.opt.rtsp_port = self.opt.rtsp_port or _free_port()
        self.opt.http_port = self.opt.http_port or _free_port()
        self.profile = self.opt.profile or profiles.load(self.opt.firmware)  # ValueError if unknown
        self.firmware = tuple(self.profile["firmware"])
        self.events = []               # (monotonic time, kind, text)
        self.console = []              # lines the firmware printed
        self.cond = threading.Condition()
        self.leds = {"LED_RED": 0, "LED_GREEN": 0, "LED_BLUE": 0, "LED_IR": 0}
        self.rtc_offset = (RTC_LOST - time.time()) if self.opt.rtc == "lost" else 0.0
        self.pins = {"P11": 0}
        self.proc = None
        self.boots = 0
        self.sleeping = False
        # The SRC user-reset flag: a deep-sleep wake sets it, only a power loss clears it;
        # while set, machine.reset_cause() reads DEEPSLEEP_RESET whatever the reset was.
        self.user_reset_flag = False
        self._hw_cause = PWRON_RESET    # what the WDOG recorded at the last hardware reset
        self._ticks = (0, 0.0)          # ticks_ms at the last process start, and when
        self._pending = None           # why the running process is about to end
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._wdt = None               # (timeout s, deadline)
        self._reader = None
        self._sd_remove_at = None
        self.wifi = wifi.AccessPoint(self.emit, fault=self.opt.wifi_fault)
        self.camera = CameraModel(profile=self.profile, source=self.opt.source,
                                  fps=self.opt.fps, emit=self.emit)
        self._prepare_storage()
        handlers = self._handlers()
        handlers.update(self.wifi.handlers())
        handlers.update(self.camera.handlers())
        # USB serial port (REPL on a pty): tools/sim/serial.py
        self.serial = None
        if self.opt.serial:
            from .serial import SerialPort
            self.serial = SerialPort(self.emit)
            handlers.update(self.serial.handlers())
        self.bus = BusServer(handlers)
        self._thread = None

    # -- events ---------------------------------------------------------------------------
    def emit(self, kind, text):
        with self.cond:
            self.events.append((time.monotonic(), kind, text))
            self.cond.notify_all()
        if self.opt.printer:
            self.opt.printer(kind, text)
        elif self.opt.echo:
            print("board: %-8s %s" % (kind, text), flush=True)

    def wait_for(self, pred, timeout=10.0, start=0):
        """Wait until pred(kind, text) holds for an event at index >= start; returns its index."""
        deadline = time.monotonic() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(self.events):
                    _, kind, text = self.events[i]
                    if pred(kind, text):
                        return i
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("board event not seen within %.1f s%s"
                                       % (timeout, self._recent()))
                self.cond.wait(left)

    def wait_console(self, needle, timeout=30.0, start=0):
        """Wait for a console line containing needle (at line index >= start); returns the line.
        The default bound is for a boot on a busy PC (10 s was too short under the full suite)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(self.console):
                    if needle in self.console[i]:
                        return self.console[i]
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("console line %r not seen within %.1f s%s"
                                       % (needle, timeout, self._recent()))
                self.cond.wait(left)

    def _recent(self):
        # what a wait that timed out saw last: for its error message
        p = self.proc
        state = "no process" if p is None else (
            "process running" if p.poll() is None else "process ended (%s)" % p.returncode)
        ev = ["  %s %s" % (k, t) for _, k, t in self.events[-8:]]
        con = ["  | " + ln for ln in self.console[-8:]]
        return "; %s, boots %d\nlast events:\n%s\nlast console lines:\n%s" % (
            state, self.boots, "\n".join(ev) or "  (none)", "\n".join(con) or "  (none)")

    # -- storage --------------------------------------------------------------------------
    def _prepare_storage(self):
        o = self.opt
        o.workdir = Path(o.workdir)
        o.workdir.mkdir(parents=True, exist_ok=True)
        files = app_files(o.app_dir, self._config_file())
        self.flash_image = o.workdir / "flash.img"
        storage.make_fat_image(self.flash_image, o.flash_size_mb, files, fat32=False, label="FLASH")
        self.sd_image = Path(o.sd_image) if o.sd_image else o.workdir / "sd.img"
        fault = o.sd_fault
        remove_after = None
        if fault.startswith("removed@"):
            remove_after = float(fault.split("@", 1)[1])
            fault = "none"
        if not (o.sd_image and self.sd_image.exists()):
            if fault == "unformatted":
                with open(self.sd_image, "wb") as f:
                    f.truncate(o.sd_size_mb * 1024 * 1024)
            else:
                storage.make_fat_image(self.sd_image, o.sd_size_mb, files, label="SDCARD")
                if fault == "full":
                    storage.fill_up(self.sd_image)
        self.flash = storage.BlockDevice("flash", self.flash_image, self.emit)
        self.sd = storage.BlockDevice("sd", self.sd_image, self.emit,
                                      fault if fault not in ("unformatted", "full") else "none")
        if fault in ("unformatted", "full"):
            self.emit("storage", "sd fault: " + fault)
        self._sd_remove_after = remove_after

    def _config_file(self):
        """The config.json put on the drives. A config that names no WiFi network gets the
        emulator's own, so `make run` streams out of the box; the user's file is not changed."""
        src = Path(self.opt.config) if self.opt.config else Path(self.opt.app_dir) / "config.json"
        if not src.exists():
            return None
        try:
            cfg = json.loads(src.read_text())
        except ValueError:
            return src                        # broken on purpose: the app must cope
        w = cfg.get("wifi") if isinstance(cfg, dict) else None
        if isinstance(w, dict) and w.get("ssid") == "":
            w["ssid"] = "emulator"
            self.emit("wifi", "config.json names no WiFi network: using the emulated one, 'emulator'")
            out = self.opt.workdir / "config.json"
            out.write_text(json.dumps(cfg, indent=2))
            return out
        return src

    # -- bus handlers for machine / omv / rtc ---------------------------------------------
    def _handlers(self):
        return {
            "board_info": self._board_info,
            "fw_version": lambda p: ("%d.%d.%d" % self.firmware).encode(),
            "unique_id": lambda p: bytes.fromhex("4f4d5652543130363231"),
            "rtc_offset": lambda p: struct.pack("<d", self.rtc_offset),
            "rtc_set": self._rtc_set,
            "led": self._led,
            "pin_get": lambda p: bytes([self.pins.get(p.decode(), 0)]),
            "pin_set": self._pin_set,
            "wdt_start": self._wdt_start,
            "wdt_feed": self._wdt_feed,
            "native_fault": lambda p: self.emit("fault", "HardFault in native code (%s): the "
                                                "core loops in the handler" % p.decode()),
            "ticks_start": lambda p: struct.pack("<q", self._ticks[0]),
            "reset": lambda p: self._end_process(("reset", SOFT_RESET, True)),
            "soft_reset": lambda p: self._end_process(("reset", SOFT_RESET, False)),
            "deepsleep": lambda p: self._end_process(("sleep", struct.unpack("<i", p)[0])),
            "repl": lambda p: self.emit("repl", "script ended; board idle at the REPL"),
            "sd_present": lambda p: b"1" if self.sd.present() else b"0",
            "sd": self.sd.handle,
            "flash": self.flash.handle,
        }

    def _board_info(self, payload):
        return json.dumps({
            "firmware": list(self.firmware),
            "device_dir": str(mpy.DEVICE),
            "reset_cause": self._cause,
            "run_main": self._run_main,
            "run_boot": self.opt.run_boot_py,
            "native_fault": self.opt.native_fault,
            "app_heap": app_heap_bytes(self.profile),
        }).encode()

    def _rtc_set(self, payload):
        secs = struct.unpack("<q", payload)[0]
        self.rtc_offset = secs - time.time()
        self.emit("rtc", "set to %s UTC" % time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(secs)))

    def rtc_now(self):
        return time.time() + self.rtc_offset

    def _led(self, payload):
        name, state = payload.decode().split(":")
        self.leds[name] = int(state)
        self.emit("led", "%s %s" % (name[4:].lower(), "on" if state == "1" else "off"))

    def _pin_set(self, payload):
        name, v = payload.decode().split("=")
        self.pins[name] = int(v)

    def _wdt_start(self, payload):
        ms = struct.unpack("<i", payload)[0]
        self._wdt = (ms / 1000.0, time.monotonic() + ms / 1000.0)
        self.emit("watchdog", "armed, %d ms" % ms)

    def _wdt_feed(self, payload):
        if self._wdt:
            self._wdt = (self._wdt[0], time.monotonic() + self._wdt[0])

    def _end_process(self, why):
        self._pending = why
        proc = self.proc
        if proc:
            proc.kill()

    # -- test and user controls -----------------------------------------------------------
    def pulse_p11(self):
        """A rising edge on P11 (e.g. a PIR sensor): wakes the board from deep sleep."""
        self.emit("pin", "P11 rising edge")
        self._wake.set()

    def power_cycle(self, lose_rtc=True):
        """Unplug and plug in again: RAM, the reset flags and (without a backup supply) the
        RTC are lost."""
        if lose_rtc:
            self.rtc_offset = RTC_LOST - time.time()
        self._end_process(("power",))

    # -- power and process lifecycle ------------------------------------------------------
    def start(self):
        self._thread = threading.Thread(target=self._power_loop, daemon=True, name="board")
        self._thread.start()
        return self

    def _power_loop(self):
        cause, run_main = PWRON_RESET, True
        while not self._stop.is_set():
            self._run_firmware(cause, run_main)
            why = self._pending or ("exit",)
            self._pending = None
            if self._stop.is_set():
                break
            cause, run_main = self._after(why)
            if cause is None:
                break

    def _after(self, why):
        kind = why[0]
        self.leds = dict.fromkeys(self.leds, 0)
        self.wifi.reset()
        if kind == "reset":
            self.emit("reset", "%s reset" % CAUSE_NAMES[why[1]])
            if why[1] != SOFT_RESET:
                self._wdt = None
            return why[1], why[2]
        self._wdt = None
        if kind == "wdt":
            return WDT_RESET, True
        if kind == "power":
            self.emit("power", "power cycled")
            self.user_reset_flag = False
            return PWRON_RESET, True
        if kind == "sleep":
            self._deep_sleep(why[1])
            self.user_reset_flag = fact(self.profile, "reset_cause_after_deepsleep",
                                        DEEPSLEEP_RESET) == DEEPSLEEP_RESET
            return DEEPSLEEP_RESET, True
        self.emit("power", "firmware process ended unexpectedly (exit code %s)" % self._exitcode)
        return None, None

    def _deep_sleep(self, ms):
        secs = ms // 1000                      # whole seconds; < 1 s arms no timer
        self.sleeping = True
        self.emit("sleep", "deep sleep for %d s%s" % (secs, "" if secs else " (P11 wake only)"))
        self._wake.clear()
        t0 = time.monotonic()
        limit = secs * self.opt.time_scale if secs else None
        woke_by_pin = self._wake.wait(limit)
        real = time.monotonic() - t0
        slept = real / self.opt.time_scale if woke_by_pin or not secs else secs
        self.rtc_offset += slept - real        # the RTC ran through the whole sleep
        self.sleeping = False
        self.emit("wake", "woke by %s after %.1f s" % ("P11" if woke_by_pin else "timer", slept))

    def _reset_cause(self, cause, hard):
        """What machine.reset_cause() reads after this reset (source: ports/mimxrt/
        modmachine.c mp_machine_reset_cause @v1.23.0): DEEPSLEEP_RESET while the SRC
        user-reset flag is set (profile facts reset_cause_after_deepsleep, _sticky), else
        the WDOG's record of the last HARDWARE reset, which a soft reset leaves as it was."""
        if hard:
            self._hw_cause = PWRON_RESET if cause == DEEPSLEEP_RESET else cause
        if self.user_reset_flag:
            if cause != DEEPSLEEP_RESET and hard and not fact(self.profile, "reset_cause_sticky", True):
                self.user_reset_flag = False
            else:
                return DEEPSLEEP_RESET
        return self._hw_cause

    def _start_ticks(self, hard):
        # A hardware reset restarts the counter (at ticks_start_ms if asked); a soft reset
        # does not: the new process goes on from where the old one's counter is now.
        now = time.monotonic()
        if hard:
            start = (self.opt.ticks_start_ms or 0) % TICKS_PERIOD
        else:
            start = (self._ticks[0] + int((now - self._ticks[1]) * 1000)) % TICKS_PERIOD
        self._ticks = (start, now)

    def _run_firmware(self, cause, run_main):
        hard = not (cause == SOFT_RESET and not run_main)
        self._cause, self._run_main = self._reset_cause(cause, hard), run_main
        self._start_ticks(hard)
        self.boots += 1
        reads = "" if self._cause == cause else " (reset_cause() reads %d)" % self._cause
        ticks = "" if self.opt.ticks_start_ms is None else ", ticks_ms %d" % self._ticks[0]
        self.emit("boot", "#%d, firmware %s%s%s, reset cause %s" % (
            self.boots, "%d.%d.%d" % self.firmware, ticks, reads, CAUSE_NAMES[cause]))
        env = {"SIM_BUS": "127.0.0.1:%d" % self.bus.port,
               "SIM_PORT_MAP": "%d=%d,%d=%d" % (self.opt.camera_rtsp_port, self.opt.rtsp_port,
                                                self.opt.camera_http_port, self.opt.http_port)}
        if self.opt.ntp_port:
            env["SIM_NTP_PORT"] = str(self.opt.ntp_port)
        env["SIM_LWIP"] = self.lwip_spec()
        env.update(self.opt.extra_env)
        cmd = [mpy.binary(), "-X", "heapsize=%d" % heap_bytes(self.profile),
               str(mpy.DEVICE / "_sim_boot.py")]
        self.proc = subprocess.Popen(cmd, env=mpy.env([mpy.DEVICE], env), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._reader = threading.Thread(target=self._read_console, args=(self.proc,), daemon=True)
        self._reader.start()
        if self.serial:                # a soft reset keeps the REPL mode (raw stays raw)
            self.serial.attach(self.proc, soft_reset=cause == SOFT_RESET and not run_main)
        t_boot = time.monotonic()
        while self.proc.poll() is None:
            if self._stop.wait(0.05):
                break
            self._watch(t_boot)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._exitcode = self.proc.returncode
        self._reader.join(2)
        if self.serial:
            self.serial.detach(self.proc)

    def lwip_spec(self):
        """The network model's settings for the firmware process (SIM_LWIP)."""
        o = self.opt
        if not o.net_model:
            return "off"
        return "rate=%d,rtt=%g,loss=%g,dns=%s,trace=%d" % (
            o.link_rate, o.link_rtt_ms, o.link_loss, o.dns, o.net_trace)

    def _watch(self, t_boot):
        if self._wdt and time.monotonic() > self._wdt[1] and not self._pending:
            self.emit("watchdog", "starved: board reset")
            self._end_process(("wdt",))
        if self._sd_remove_after is not None and time.monotonic() - t_boot > self._sd_remove_after:
            self._sd_remove_after = None
            self.sd.remove()

    def _console_chunks(self, proc):
        """Console output line by line; with a serial port every chunk also goes to the pty
        as it comes (REPL prompts and raw-REPL replies end in no newline)."""
        if not self.serial:
            yield from proc.stdout
            return
        tail = b""
        while True:
            chunk = proc.stdout.read1(4096)
            if not chunk:
                break
            self.serial.write(chunk)
            *lines, tail = (tail + chunk).split(b"\n")
            yield from lines
        if tail:
            yield tail

    def _read_console(self, proc):
        for raw in self._console_chunks(proc):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            with self.cond:
                self.console.append(line)
                self.cond.notify_all()
            if self.opt.printer:
                self.opt.printer(None, line)
            elif self.opt.echo:
                say_line(line)

    def stop(self):
        self._stop.set()
        self._wake.set()
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
        if self._thread:
            self._thread.join(5)
        self.bus.close()
        if self.serial:
            self.serial.close()
        self.camera.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def free_port(kind=socket.SOCK_STREAM, lo=20000, hi=32000):
    """A port to listen on that is free now, below Linux's ephemeral range (32768-60999): a
    port handed out by bind(0) can be taken by some connection's local end before the
    emulator listens on it (seen under parallel tests); one from here cannot. Each pytest-xdist
    worker draws from its own part of the range."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")[2:]
    span = (hi - lo) // 16
    base = lo + (int(worker) % 16 if worker.isdigit() else 0) * span
    for _ in range(200):
        port = base + random.randrange(span)
        if port in _GIVEN:
            continue        # handed out lately, maybe not listened on yet (a board's two ports)
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _GIVEN.append(port)
        del _GIVEN[:-64]
        return port
    raise OSError("no free port in %d..%d" % (base, base + span))


# ports free_port() gave lately: free when asked, but a caller that asks twice before it
# listens (an RTSP and an HTTP port) would otherwise get the same one now and then (1 in 750)
_GIVEN = []


_free_port = free_port
