"""python -m tools.deploy against the emulated camera's serial port: the right files on the
right drives (read back from the FAT images with mtools), verified, .mpy when asked, stale
files removed but user data kept, secrets set without being shown, and clear errors."""
import hashlib
import json
import os
import shutil
import subprocess
import sys

import pytest
import serial

from tools import deploy
from tools.appfiles import ROOT
from tools.sim import storage

from .serialkit import FOREVER_MAIN, mip_index, serial_board
from .simkit import make_app

# The camera's first app: it leaves user data on its drive (a still, a log), then runs on.
FACTORY_MAIN = """
import os, time
for d in ("stills", "logs"):
    try:
        os.mkdir(d)
    except OSError:
        pass
with open("stills/0001.jpg", "wb") as f:
    f.write(b"JPEG user data")
with open("logs/app.log", "w") as f:
    f.write("user log")
print("factory app running")
while True:
    time.sleep_ms(50)
"""

APP_MAIN = """
import helper, tools2.deep
print("RESULT", helper.NAME, tools2.deep.VALUE, helper.__file__.endswith(".mpy"))
"""


def new_app(root, version, with_old=True):
    """A small app of two versions: v1 has lib/old.py, v2 does not."""
    lib = {"helper.py": "NAME = 'v%d'\n" % version}
    if with_old:
        lib["old.py"] = "GONE = True\n"
    app = make_app(root, main=APP_MAIN, boot="print('app boot')\n",
                   config=json.dumps({"wifi": {"ssid": ""}, "camera": {"quality": 70}}), lib=lib)
    (app / "lib" / "tools2").mkdir()
    (app / "lib" / "tools2" / "deep.py").write_text("VALUE = %d\n" % (version * 10))
    return app


def run_deploy(port, app, *args, env=None):
    cmd = [sys.executable, "-m", "tools.deploy", "--port", port, "--app", str(app), *args]
    e = dict(os.environ, **(env or {}))
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=e, cwd=ROOT)


def drives_of(board, fw):
    """{drive on the camera: (image, prefix in the image)} the deploy must have written."""
    if fw == "4.5":   # the card at /; deploy mounts the flash beside it for the fallback copy
        return {"/": board.sd_image, "/flash": board.flash_image}
    return {"/sdcard": board.sd_image, "/flash": board.flash_image}


def sha(data):
    return hashlib.sha256(data).hexdigest()


def check_app_on(image, app, mpy):
    """Every app file on the image, byte for byte (lib as .mpy when mpy); returns the names."""
    names = set(n.lstrip("/") for n in storage.list_dir(image, "/", recursive=True))
    for name in ("main.py", "boot.py"):
        assert storage.read_file(image, name) == (app / name).read_bytes()
    for src in (app / "lib").rglob("*.py"):
        rel = "lib/" + src.relative_to(app / "lib").as_posix()
        if mpy:
            data = storage.read_file(image, rel[:-3] + ".mpy")
            assert data and data[:1] == b"M", rel         # an .mpy file, not the source
            assert rel not in names                       # no .py left to shadow it
        else:
            assert storage.read_file(image, rel) == src.read_bytes()
    manifest = json.loads(storage.read_file(image, ".deploy.json"))["files"]
    for rel, digest in manifest.items():
        if rel != "config.json":     # its hash would help guess the passwords in it
            assert sha(storage.read_file(image, rel)) == digest
    return names


@pytest.mark.parametrize("fw", ["4.5", "5.0"])
def test_deploy_layout_mpy_stale_files_and_boot(tmp_path, fw):
    factory = make_app(tmp_path / "factory", main=FACTORY_MAIN)
    v1, v2 = new_app(tmp_path / "v1", 1), new_app(tmp_path / "v2", 2, with_old=False)
    with serial_board(factory, tmp_path / "run", firmware=fw) as b:
        b.wait_console("factory app running")
        r1 = run_deploy(b.serial.path, v1, "--no-reset")
        assert r1.returncode == 0, r1.stdout + r1.stderr
        for image in drives_of(b, fw).values():
            assert "lib/old.py" in check_app_on(image, v1, mpy=False)
        mark = len(b.console)
        r2 = run_deploy(b.serial.path, v2, "--mpy")
        assert r2.returncode == 0, r2.stdout + r2.stderr
        line = b.wait_console("RESULT", start=mark, timeout=20)   # reset into the new app
        for image in drives_of(b, fw).values():
            names = check_app_on(image, v2, mpy=True)
            assert "lib/old.py" not in names and "lib/helper.py" not in names
        card = b.sd_image
        assert storage.read_file(card, "stills/0001.jpg") == b"JPEG user data"
        assert storage.read_file(card, "logs/app.log") == b"user log"
    assert line.split()[1:] == ["v2", "20", "True"]
    assert "verified by SHA-256" in r2.stdout and "removed" in r2.stdout


def test_secrets_reach_the_camera_but_no_output(tmp_path):
    wifi_pw, rtsp_pw = "wifi-Secret-8841", "rtsp-Secret-2203"
    app = new_app(tmp_path / "app", 1)
    env = {"T_WIFI_PW": wifi_pw, "T_RTSP_PW": rtsp_pw}
    with serial_board(make_app(tmp_path / "f", main=FACTORY_MAIN), tmp_path / "run") as b:
        b.wait_console("factory app running")
        first = run_deploy(b.serial.path, app, "--wifi-ssid", "HomeNet",
                           "--wifi-password-env", "T_WIFI_PW", "--rtsp-password-env",
                           "T_RTSP_PW", env=env)
        assert first.returncode == 0, first.stdout + first.stderr
        b.wait_console("RESULT")
        again = run_deploy(b.serial.path, app, "--dry-run", "--no-reset")   # keeps them
        raw = [storage.read_file(img, "config.json") for img in (b.sd_image, b.flash_image)]
        configs = [json.loads(data) for data in raw]
        seen = "\n".join(b.console) + "\n".join(t for _, _, t in b.events)
    for cfg in configs:
        assert cfg["wifi"] == {"ssid": "HomeNet", "password": wifi_pw}
        assert cfg["rtsp"]["password"] == rtsp_pw
        assert cfg["camera"] == {"quality": 70}        # the rest of the local config as is
    outputs = first.stdout + first.stderr + again.stdout + again.stderr + seen
    assert wifi_pw not in outputs and rtsp_pw not in outputs
    assert sha(raw[0]) not in outputs          # nor a plain hash to test guesses against
    assert "wifi.password set (from $T_WIFI_PW)" in first.stdout
    assert "wifi.password set (kept from the camera)" in again.stdout


def test_missing_package_is_installed_once_with_mip(tmp_path, monkeypatch):
    index = mip_index(tmp_path / "index")
    needs = (("logging", "logging"), ("tinypkg", "tinypkg"))
    monkeypatch.setenv("T_WIFI_PW", "wifi-Secret-8841")
    argvs = []
    real_run = subprocess.run

    def recording_run(cmd, *a, **kw):
        argvs.append(cmd)
        return real_run(cmd, *a, **kw)

    monkeypatch.setattr(deploy.subprocess, "run", recording_run)
    app = new_app(tmp_path / "app", 1)
    with serial_board(make_app(tmp_path / "f", main=FACTORY_MAIN), tmp_path / "run") as b:
        runs = []
        for _ in range(2):
            out = []
            args = deploy.parse_args(["--port", b.serial.path, "--app", str(app), "--index",
                                      str(index), "--wifi-password-env", "T_WIFI_PW",
                                      "--no-reset"])
            assert deploy.deploy(args, say=out.append, needs=needs) == 0
            runs.append(out)
        for img in (b.sd_image, b.flash_image):
            assert storage.read_file(img, "lib/tinypkg.py") == b"VALUE = 42\n"
    assert "packages: install tinypkg" in runs[0]
    assert any(line.startswith("packages: nothing to install") for line in runs[1])
    mip = [c for c in argvs if "mip" in c]
    assert len(mip) == 2                                  # card and flash, first deploy only
    assert not any("wifi-Secret-8841" in " ".join(map(str, c)) for c in argvs)


def test_errors_are_clear(tmp_path):
    app = new_app(tmp_path / "app", 1)
    missing = run_deploy("/dev/pts/9999", app)
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    master, slave = os.openpty()        # a serial port where nothing answers
    try:
        silent = run_deploy(os.ttyname(slave), app, "--timeout", "1")
    finally:
        os.close(master)
        os.close(slave)
    assert silent.returncode == 1 and "no camera answered" in silent.stderr
    with serial_board(make_app(tmp_path / "f", main=FACTORY_MAIN), tmp_path / "run") as b:
        with serial.Serial(b.serial.path, exclusive=True):     # OpenMV IDE has the port
            busy = run_deploy(b.serial.path, app)
    assert busy.returncode == 1 and "in use by another program" in busy.stderr
    assert "Traceback" not in missing.stderr + silent.stderr + busy.stderr


def test_bad_secret_and_missing_env_fail_before_touching_the_camera(tmp_path):
    app = new_app(tmp_path / "app", 1)
    short = run_deploy("/dev/pts/9999", app, "--wifi-password-env", "T_PW", env={"T_PW": "abc"})
    unset = run_deploy("/dev/pts/9999", app, "--rtsp-password-env", "T_NOT_SET_ANYWHERE")
    assert "wifi-password (from $T_PW) must be 8 to 63 characters" in short.stderr
    assert "abc" not in short.stderr
    assert "T_NOT_SET_ANYWHERE is not set" in unset.stderr


def test_merge_keeps_secrets_and_reports_without_them():
    local = {"wifi": {"ssid": "", "password": ""}, "rtsp": {"user": "cam"}}
    device = {"wifi": {"ssid": "Old", "password": "old-password"}}
    given = {"rtsp-password": ("new-password-1", "$X")}
    cfg, report = deploy.merge_config(local, device, given)
    assert cfg["wifi"] == {"ssid": "Old", "password": "old-password"}
    assert cfg["rtsp"] == {"user": "cam", "password": "new-password-1"}
    text = repr(report)
    assert "old-password" not in text and "new-password-1" not in text


@pytest.mark.parametrize("fw", ["4.5", "5.0"])
def test_the_real_app_deploys_as_mpy_boots_and_streams(tmp_path, fw):
    from tools import probe
    from .rtsp_support import free_port
    port = free_port()
    env = {"T_WIFI_PW": "wifi-Secret-8841", "T_RTSP_PW": "rtsp-Secret-2203"}
    factory = make_app(tmp_path / "f", main=FOREVER_MAIN)
    with serial_board(factory, tmp_path / "run", rtsp_port=port, rtc="host", firmware=fw) as b:
        b.wait_console("app running")
        mark = len(b.console)
        r = run_deploy(b.serial.path, ROOT, "--mpy", "--wifi-ssid", "emulator",
                       "--wifi-password-env", "T_WIFI_PW", "--rtsp-password-env", "T_RTSP_PW",
                       env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        for image in (b.sd_image, b.flash_image):
            check_app_on(image, ROOT, mpy=True)
        b.wait_console("streaming at rtsp://", start=mark, timeout=20)
        s = probe.probe("rtsp://127.0.0.1:%d/stream" % port, frames=5, timeout=10,
                        user="admin", password=env["T_RTSP_PW"])
    assert s.frames == 5 and s.frames_lost == 0 and s.width > 0
    assert not any(v in r.stdout + r.stderr for v in env.values())


# A small streaming app: the emulated sensor's JPEGs through lib/rtspd, one per wanted frame.
STREAM_MAIN = """
import sensor, time
from rtspd import RtspServer
sensor.reset()
sensor.set_pixformat(sensor.JPEG)
sensor.set_framesize(sensor.VGA)
sensor.set_quality(60)
srv = RtspServer(port=554, auth="none", width=640, height=480, fps=15)
srv.start("0.0.0.0")
print("STREAMING")
while True:
    if srv.wants_frame():
        img = sensor.snapshot()
        srv.send_frame(img.bytearray(), img.size(), time.ticks_ms())
    srv.poll(5)
"""


def stream_app(root):
    app = make_app(root, main=STREAM_MAIN, boot="")
    shutil.copytree(ROOT / "lib" / "rtspd", app / "lib" / "rtspd",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return app


@pytest.mark.parametrize("app_factory", [stream_app])
def test_deployed_app_streams_what_the_camera_captured(tmp_path, app_factory):
    from tools import probe
    from .rtsp_support import free_port, jpeg_scan
    app = app_factory(tmp_path / "app")
    port = free_port()
    factory = make_app(tmp_path / "f", main=FACTORY_MAIN)
    with serial_board(factory, tmp_path / "run", rtsp_port=port, rtc="host", fps=15) as b:
        b.wait_console("factory app running")
        mark = len(b.console)
        r = run_deploy(b.serial.path, app, "--mpy")
        assert r.returncode == 0, r.stdout + r.stderr
        b.wait_console("STREAMING", start=mark, timeout=20)
        s = probe.probe("rtsp://127.0.0.1:%d/stream" % port, frames=10, timeout=10)
        sent = [rec for rec in b.camera.frames_of("jpeg")]
    assert s.frames == 10 and s.frames_lost == 0
    assert (s.width, s.height) == (640, 480) and s.jpeg_types == [0] and s.q_values == [255]
    assert s.jpeg_bytes == sum(len(jpeg_scan(rec.data)) for rec in sent[:10])
    assert abs(s.clock_offset_s) < 2.0


def test_finding_the_camera_on_usb(monkeypatch):
    from serial.tools import list_ports
    from serial.tools.list_ports_common import ListPortInfo

    def port(dev, vid, pid, desc="USB serial"):
        p = ListPortInfo(dev)
        p.vid, p.pid, p.description = vid, pid, desc
        return p

    other = port("/dev/ttyUSB0", 0x10C4, 0xEA60)                    # a CP210x adapter
    cam = port("/dev/ttyACM0", 0x37C5, 0x1206, "OpenMV Cam USB COM Port")
    old = port("/dev/ttyACM1", 0x1209, 0xABD1)
    monkeypatch.setattr(list_ports, "comports", lambda: [other, cam])
    assert deploy.find_camera() == "/dev/ttyACM0"
    monkeypatch.setattr(list_ports, "comports", lambda: [other, cam, old])
    with pytest.raises(deploy.DeployError, match="several OpenMV cameras.*--port"):
        deploy.find_camera()
    monkeypatch.setattr(list_ports, "comports", lambda: [other])
    with pytest.raises(deploy.DeployError, match="no OpenMV camera found on USB"):
        deploy.find_camera()


def test_a_failing_card_still_gets_the_flash_copy_and_a_clear_error(tmp_path):
    app = new_app(tmp_path / "app", 1)
    factory = make_app(tmp_path / "f", main=FOREVER_MAIN)
    with serial_board(factory, tmp_path / "run", sd_fault="read_only") as b:
        b.wait_console("app running")
        r = run_deploy(b.serial.path, app)
        check_app_on(b.flash_image, app, mpy=False)
    assert r.returncode == 1
    assert "/sdcard" in r.stderr and "write-protect" in r.stderr
    assert "/flash: 6 files verified" in r.stdout


def test_passwords_from_a_prompt_or_the_environment_only():
    args = deploy.parse_args(["--ask", "rtsp-password", "--wifi-password-env", "W",
                              "--wifi-ssid", "Net"])
    asked = []
    got = deploy.gather_settings(args, environ={"W": "from-the-env"},
                                 ask=lambda prompt: asked.append(prompt) or "typed-secret")
    assert got == {"wifi-ssid": ("Net", "--wifi-ssid"),
                   "wifi-password": ("from-the-env", "$W"),
                   "rtsp-password": ("typed-secret", "prompt")}
    assert asked == ["Rtsp password for the camera: "]



def test_a_password_on_the_command_line_is_refused_without_being_repeated(tmp_path):
    app = new_app(tmp_path / "app", 1)
    for opt in ("--wifi-password", "--rtsp-password", "--wifi-pass"):
        r = run_deploy("/dev/pts/9999", app, opt, "Typed-Secret-77")
        assert r.returncode == 2 and "Typed-Secret-77" not in r.stdout + r.stderr, opt
    assert "use --wifi-password-env VAR or --ask wifi-password" in \
        run_deploy("/dev/pts/9999", app, "--wifi-password", "Typed-Secret-77").stderr
