"""python -m tools.sim: run the camera application on an emulated OpenMV Cam RT1062.

Prints the stream URL on a line beginning rtsp://, the web page's on a line beginning
http://, the app's console, and every board event
on a line of its own (resets and their cause, deep sleep, watchdog, storage and WiFi faults);
the LED as the pattern it shows, once per change (--trace: every switching). Once the camera
is ready, a short banner repeats the URL. Ctrl-C stops it.
"""
import argparse
import re
import signal
import sys
import threading
from pathlib import Path

from . import storage, wifi
from .console import Console
from .board import Board, Options, firmware_names


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m tools.sim", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--port", type=int, default=8554,
                   help="host TCP port that serves the camera's RTSP port (default 8554)")
    p.add_argument("--http-port", type=int, default=8080,
                   help="host TCP port that serves the camera's web page (its port 80; "
                   "default 8080)")
    p.add_argument("--config", type=Path, help="config.json to put on the drives "
                   "(default: the app's own config.json)")
    p.add_argument("--firmware", choices=firmware_names(), default="5.0", metavar="VERSION",
                   help="emulated OpenMV firmware version, short or full (%s); it "
                   "decides the storage layout, modules, names and behaviours (default 5.0)"
                   % ", ".join(firmware_names()))
    p.add_argument("--sd-image", type=Path,
                   help="SD card image file to use (created with the app if it does not exist)")
    p.add_argument("--sd-fault", default="none",
                   help="SD card fault: %s, or removed@SECONDS" % ", ".join(storage.FAULTS))
    p.add_argument("--wifi-fault", default="none", choices=wifi.FAULTS, help="WiFi fault")
    p.add_argument("--source", default="synthetic",
                   help="frame source: synthetic, photo[:china|flower] (a real photograph, "
                   "panned: JPEGs as big as a real camera's), file:PATH (a video), "
                   "v4l2:/dev/videoN (a webcam)")
    p.add_argument("--fps", type=float, default=30.0, help="sensor frame rate (default 30)")
    p.add_argument("--time-scale", type=float, default=1.0,
                   help="deep sleep lasts this fraction of its real time (e.g. 0.01)")
    p.add_argument("--rtc", choices=("lost", "host"), default="lost",
                   help="RTC at power-on: 'lost' reads 2013 like a board that lost power, "
                   "'host' starts from the PC clock")
    p.add_argument("--ntp-port", type=int,
                   help="send the camera's NTP queries (port 123) to this port instead")
    p.add_argument("--serial", action="store_true",
                   help="offer the camera's USB serial port (the REPL, for mpremote) on a "
                   "pseudo-terminal; its path is printed on a line 'serial: /dev/pts/N'")
    p.add_argument("--ticks-start-ms", type=int, metavar="N",
                   help="time.ticks_ms() reads N at every hardware boot instead of 0 (it "
                   "wraps at 2**30: e.g. %d reaches the wrap after 60 s)" % (2**30 - 60000))
    p.add_argument("--workdir", type=Path, default=Path("run"),
                   help="folder for the flash and SD images (default ./run)")
    p.add_argument("--native-fault", action="store_true",
                   help="the first call of the app's native (viper) code hangs the core, as a "
                   "HardFault does on the camera, until the watchdog resets it")
    p.add_argument("--net-model", choices=("on", "off"), default="off",
                   help="the camera's network stack on the app's sockets: lwIP's socket "
                   "pools, 6400-byte send buffers drained at the WiFi link's rate, shared "
                   "packet memory, blocking DNS (default off: plain loopback)")
    p.add_argument("--link-rate", type=float, default=600, metavar="KB_S",
                   help="WiFi link rate up, kB/s (default 600, lwIP's own figure)")
    p.add_argument("--link-rtt", type=float, default=2.0, metavar="MS",
                   help="round-trip time to the viewer, ms (default 2)")
    p.add_argument("--link-loss", type=float, default=0.0, metavar="PERCENT",
                   help="frames the radio loses, %% (default 0)")
    p.add_argument("--dns", choices=("host", "none"), default="host",
                   help="with the network model: 'host' resolves names as the PC does, "
                   "'none' models a DNS server that never answers (lookups block)")
    p.add_argument("--net-trace", action="store_true",
                   help="print the network model's stalls and refusals on the console")
    p.add_argument("--trace", action="store_true",
                   help="print every board event (each LED switching) instead of LED patterns")
    a = p.parse_args(argv)
    if a.sd_fault not in storage.FAULTS and not re.fullmatch(r"removed@\d+(\.\d+)?", a.sd_fault):
        p.error("--sd-fault must be one of %s, or removed@SECONDS" % ", ".join(storage.FAULTS))
    return a


def stream_url(line, port):
    """The host URL for the app's console line that announces its stream, or None.

    The app prints `rtsp://<ip>:<port>/<path>` with its credentials shown apart; the
    emulator prints the URL a player on this PC can open, with the credentials in it."""
    m = re.search(r"Stream URL: rtsp://[^\s/]+(/\S*)", line)
    if not m:
        return None
    user = re.search(r"user: (\S+)", line)
    pw = re.search(r"password: (\S+)", line)
    cred = ""
    if user:
        # a password from config.json is not shown: the player will ask for it
        shown = pw and not pw.group(1).startswith("(")
        cred = "%s:%s@" % (user.group(1), pw.group(1)) if shown else user.group(1) + "@"
    return "rtsp://%s127.0.0.1:%d%s" % (cred, port, m.group(1))


def page_url(line, port):
    """The host URL of the web page for the app's 'Web page:' console line, or None (it
    asks for the same user and password as the stream)."""
    m = re.search(r"Web page: http://[^\s/]+(/\S*)", line)
    return "http://127.0.0.1:%d%s" % (port, m.group(1)) if m else None


def main(argv=None):
    a = parse_args(argv)
    opt = Options(firmware=a.firmware, config=a.config, sd_image=a.sd_image, sd_fault=a.sd_fault,
                  wifi_fault=a.wifi_fault, rtsp_port=a.port, http_port=a.http_port,
                  ntp_port=a.ntp_port,
                  time_scale=a.time_scale, fps=a.fps, source=a.source, rtc=a.rtc,
                  workdir=a.workdir, serial=a.serial, ticks_start_ms=a.ticks_start_ms,
                  native_fault=a.native_fault, net_model=a.net_model == "on",
                  link_rate=int(a.link_rate * 1000), link_rtt_ms=a.link_rtt,
                  link_loss=a.link_loss / 100, dns=a.dns, net_trace=a.net_trace)
    console = Console(trace=a.trace)
    opt.printer = console
    board = Board(opt)
    if board.serial:
        print("serial: " + board.serial.path, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *x: done.set())
    signal.signal(signal.SIGTERM, lambda *x: done.set())
    board.start()
    seen = 0
    try:
        while not done.wait(0.2):
            with board.cond:
                lines = board.console[seen:]
                seen = len(board.console)
            for line in lines:
                url = stream_url(line, a.port) or page_url(line, a.http_port)
                if url:
                    console.add_url(url)
            console.tick()
            if board._thread and not board._thread.is_alive():
                break
    finally:
        board.stop()
    print("board: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
