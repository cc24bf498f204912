"""Real RTSP clients against rtspd: PyAV (ffmpeg's library), the ffmpeg CLI and GStreamer.

The server runs in MicroPython (tools/rtsp_serve.py, or another launcher: see rtsp_support),
serving 1280x720 JPEGs made here with Pillow; clients talk to 127.0.0.1 only.
"""
import glob
import os
import shutil
import subprocess

import pytest

from . import rtsp_support as rs

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg CLI missing")


@pytest.fixture(scope="module")
def frames422(tmp_path_factory):
    d = tmp_path_factory.mktemp("f422")
    return d, rs.make_frames(d, subsampling=1)


@pytest.fixture(scope="module")
def frames420(tmp_path_factory):
    d = tmp_path_factory.mktemp("f420")
    return d, rs.make_frames(d, subsampling=2)


@pytest.fixture(scope="module")
def srv422(frames422):
    srv = rs.start_server(frames422[0])
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def srv420(frames420):
    srv = rs.start_server(frames420[0], auth="none")
    yield srv
    srv.stop()



@pytest.fixture(scope="module")
def srv422py(frames422):
    srv = rs.start_server(frames422[0], auth="none", native="off")
    yield srv
    srv.stop()


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_pyav_decodes_422_frames_that_match_the_source(srv422, frames422, transport):
    frames = rs.pyav_frames(srv422.url(srv422.user, srv422.password), transport, 30)
    assert len(frames) >= 30
    rs.check_frames_match(frames[:30], frames422[1])


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_pyav_decodes_420_frames_that_match_the_source(srv420, frames420, transport):
    frames = rs.pyav_frames(srv420.url(), transport, 30)
    assert len(frames) >= 30
    rs.check_frames_match(frames[:30], frames420[1])


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_pyav_decodes_the_plain_python_send_path(srv422py, frames422, transport):
    # what a camera that does not trust native code sends (rtspd.nativeguard)
    assert srv422py.wait_for(r"^READY .* code=python")
    frames = rs.pyav_frames(srv422py.url(), transport, 30)
    assert len(frames) >= 30
    rs.check_frames_match(frames[:30], frames422[1])


@pytest.mark.skipif(shutil.which("gst-launch-1.0") is None, reason="GStreamer missing")
@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_gstreamer_decodes_720p(srv422, transport):
    cmd = ["gst-launch-1.0", "-q", "rtspsrc", "location=" + srv422.url(), "user-id=" + srv422.user,
           "user-pw=" + srv422.password, "protocols=" + transport, "latency=0", "timeout=5000000",
           "!", "rtpjpegdepay", "!", "jpegdec", "!", "video/x-raw,width=1280,height=720", "!",
           "fakesink", "num-buffers=20"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr + "\nserver:\n" + srv422.output()[-3000:]


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_ffmpeg_copy_rebuilds_jpegs_with_the_source_scan(srv422, frames422, tmp_path, transport):
    out = str(tmp_path / "out%03d.jpg")
    cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", transport, "-timeout",
           "5000000", "-i", srv422.url(srv422.user, srv422.password), "-c", "copy", "-frames:v", "12",
           "-f", "image2", out]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    files = sorted(glob.glob(str(tmp_path / "out*.jpg")))
    assert len(files) >= 12
    scans = {rs.jpeg_scan(j): j for j in frames422[1]}
    for name in files:
        data = open(name, "rb").read()
        scan = rs.jpeg_scan(data)
        assert scan in scans, "%s: scan differs from every source JPEG" % os.path.basename(name)
        src_tables = rs.jpeg_qtables(scans[scan])
        tables = rs.jpeg_qtables(data)
        assert tables[0] == src_tables[0] and tables[1] == src_tables[1]


def test_ffmpeg_with_a_wrong_password_gets_401(srv422, tmp_path):
    for url in (srv422.url(srv422.user, "wrong-password"), srv422.url()):
        cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "tcp", "-timeout",
               "5000000", "-i", url, "-frames:v", "1", "-f", "null", "-"]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        assert p.returncode != 0
        assert "401" in p.stderr, p.stderr


@pytest.mark.skipif(shutil.which("gst-launch-1.0") is None, reason="GStreamer missing")
def test_four_real_clients_at_once(srv420, frames420):
    # PyAV over TCP and UDP in threads, GStreamer over TCP and ffmpeg over UDP as processes
    import threading
    results = {}

    def pyav(transport):
        try:
            results["pyav-" + transport] = rs.pyav_frames(srv420.url(), transport, 30)
        except Exception as e:          # reported below
            results["pyav-" + transport] = e

    gst = subprocess.Popen(["gst-launch-1.0", "-q", "rtspsrc", "location=" + srv420.url(),
                            "protocols=tcp", "latency=0", "!", "rtpjpegdepay", "!", "jpegdec", "!",
                            "fakesink", "num-buffers=30"], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    ff = subprocess.Popen(["ffmpeg", "-nostdin", "-loglevel", "error", "-rtsp_transport", "udp",
                           "-timeout", "5000000", "-i", srv420.url(), "-frames:v", "30", "-f", "null",
                           "-"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    threads = [threading.Thread(target=pyav, args=(t,)) for t in ("tcp", "udp")]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert gst.wait(30) == 0, gst.stdout.read()
        assert ff.wait(30) == 0, ff.stdout.read()
    finally:
        for p in (gst, ff):
            if p.poll() is None:
                p.kill()
                p.wait(5)
    for name in ("pyav-tcp", "pyav-udp"):
        frames = results.get(name)
        assert isinstance(frames, list) and len(frames) >= 30, (name, frames)
        rs.check_frames_match(frames[:30], frames420[1])
