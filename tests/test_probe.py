"""python -m tools.probe: its figures agree with what the RTSP server (lib/rtspd, driven by
tools/rtsp_serve.py in MicroPython) sent, and it explains a missing camera, a wrong password,
a wrong path and a port that is not RTSP."""
import json
import os
import socket
import subprocess
import sys
import threading
import time

import pytest

from tools import mpy

from .rtsp_support import DRIVER, HOST, PASSWORD, free_port, free_udp_base, jpeg_scan, \
    make_frames


class Server:
    """tools/rtsp_serve.py serving `frames_dir` (with any of its options), stopped on exit."""

    def __init__(self, frames_dir, *args):
        self.port = free_port()
        env = mpy.env([mpy.LIB, mpy.DEVICE], {"RTSP_PASSWORD": PASSWORD})
        env.pop("SIM_BUS", None)
        cmd = [mpy.binary(), "-X", "heapsize=" + mpy.HEAP, str(DRIVER), str(frames_dir),
               "--port", str(self.port), "--rtp-port", str(free_udp_base()), *map(str, args)]
        self.proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, cwd=mpy.ROOT)
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            self.stop()
            raise RuntimeError("rtsp_serve did not start: " + line)

    def url(self, path="/stream", user="admin"):
        return "rtsp://%s@%s:%d%s" % (user, HOST, self.port, path)

    def stop(self):
        self.proc.kill()
        self.proc.wait(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def run_probe(url, *args, password=PASSWORD, timeout=3):
    cmd = [sys.executable, "-m", "tools.probe", url, "--timeout", str(timeout), *args]
    env = dict(os.environ, PROBE_PW=password or "")
    if password is not None:
        cmd += ["--password-env", "PROBE_PW"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env, cwd=mpy.ROOT)


@pytest.mark.parametrize("transport,subsampling,jtype", [("tcp", 1, 0), ("udp", 2, 1)])
def test_figures_match_what_the_server_sent(tmp_path, transport, subsampling, jtype):
    frames = make_frames(tmp_path / "frames", n=4, subsampling=subsampling)
    sent = 24                                     # the server stops after this many frames
    with Server(tmp_path / "frames", "--fps", 30, "--frames", sent) as srv:
        r = run_probe(srv.url(), "--json", "--transport", transport, "--duration", "15")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["frames"] == sent and s["frames_lost"] == 0 and s["packets_lost"] == 0
    assert s["ended_by_camera"] is True
    assert (s["width"], s["height"]) == (1280, 720)
    assert s["jpeg_types"] == [jtype] and s["q_values"] == [255]
    # the server sends the files in order, over and over: the scan bytes must add up exactly
    assert s["jpeg_bytes"] == sum(len(jpeg_scan(frames[k % 4])) for k in range(sent))
    assert 20 <= s["fps"] <= 40 and 20 <= s["fps_rtp"] <= 40
    assert s["sender_reports"] >= 1 and abs(s["clock_offset_s"]) < 2.0
    assert s["play_to_first_frame_ms"] is not None and s["bitrate_kbps"] > 0
    assert s["transport"].lower().startswith(transport) and s["auth"] == "digest"


def test_human_report(tmp_path):
    make_frames(tmp_path / "frames", n=2)
    with Server(tmp_path / "frames", "--auth", "basic") as srv:    # offers Basic and Digest
        r = run_probe(srv.url(), "--frames", "5")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "auth: digest" in out                 # never Basic when Digest is offered
    assert "JPEG 1280x720" in out and "type 0 (4:2:2)" in out
    assert "camera clock:" in out and "PLAY to first frame:" in out
    assert PASSWORD not in out + r.stderr


def test_wrong_password_missing_password_and_wrong_path(tmp_path):
    make_frames(tmp_path / "frames", n=2)
    with Server(tmp_path / "frames") as srv:
        wrong = run_probe(srv.url(), password="not-the-password")
        none = run_probe("rtsp://%s:%d/stream" % (HOST, srv.port), password=None)
        path = run_probe(srv.url("/nothing-here"))
    assert wrong.returncode == 1 and "wrong user name or password" in wrong.stderr
    assert "not-the-password" not in wrong.stderr + wrong.stdout
    assert none.returncode == 1 and "wants a user name and password" in none.stderr
    assert path.returncode == 1 and "404" in path.stderr and "path" in path.stderr


def _serve_once(handler):
    """A one-connection TCP server on 127.0.0.1 running handler(conn); returns (port, stop)."""
    srv = socket.socket()
    srv.bind((HOST, 0))
    srv.listen(1)
    srv.settimeout(10)

    def run():
        try:
            conn, _ = srv.accept()
        except OSError:
            return
        with conn:
            handler(conn)

    t = threading.Thread(target=run, daemon=True)
    t.start()

    def stop():
        srv.close()
        t.join(5)
    return srv.getsockname()[1], stop


def test_basic_auth_when_it_is_the_only_offer():
    import base64
    good = "Basic " + base64.b64encode(("admin:" + PASSWORD).encode()).decode()
    seen = []

    def basic_only(conn):
        f = conn.makefile("rb")
        for _ in range(4):
            head = []
            while True:
                line = f.readline().decode().strip()
                if not line:
                    break
                head.append(line)
            if not head:
                return
            h = dict(x.split(": ", 1) for x in head[1:])
            seen.append(h.get("Authorization"))
            if h.get("Authorization") != good:
                reply = 'RTSP/1.0 401 Unauthorized\r\nWWW-Authenticate: Basic realm="cam"\r\n'
            else:
                reply = "RTSP/1.0 404 Not Found\r\n"
            conn.sendall((reply + "CSeq: %s\r\n\r\n" % h["CSeq"]).encode())

    port, stop = _serve_once(basic_only)
    try:
        r = run_probe("rtsp://admin@%s:%d/stream" % (HOST, port))
    finally:
        stop()
    assert seen[:2] == [None, good]
    assert r.returncode == 1 and "no stream at this path" in r.stderr


def test_not_rtsp_ports_and_no_camera():
    def http(conn):
        conn.recv(4096)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    def silent(conn):
        conn.recv(4096)
        conn.settimeout(10)
        conn.recv(1)                      # until the probe gives up and closes

    def hangs_up(conn):
        conn.recv(4096)

    results = {}
    for name, handler in (("http", http), ("silent", silent), ("hangs_up", hangs_up)):
        port, stop = _serve_once(handler)
        try:
            results[name] = run_probe("rtsp://%s:%d/stream" % (HOST, port), password=None,
                                      timeout=1)
        finally:
            stop()
    results["refused"] = run_probe("rtsp://%s:%d/stream" % (HOST, free_port()), password=None)
    results["url"] = run_probe("http://%s/stream" % HOST, password=None)
    assert "is not an RTSP server" in results["http"].stderr
    assert "HTTP/1.1 400" in results["http"].stderr
    assert "sent no RTSP answer within 1 s" in results["silent"].stderr
    assert "closed the connection without an RTSP answer" in results["hangs_up"].stderr
    assert "connection refused" in results["refused"].stderr
    assert "not an rtsp:// URL" in results["url"].stderr
    for r in results.values():
        assert r.returncode == 1 and "Traceback" not in r.stderr


def test_connect_timeout_is_reported(tmp_path):
    # A listener whose backlog is full drops further SYNs: connecting times out, as with a
    # camera that is off (only on this machine's loopback).
    srv = socket.socket()
    srv.bind((HOST, 0))
    srv.listen(0)
    port = srv.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex((HOST, port))
            fillers.append(c)
        time.sleep(0.2)
        r = run_probe("rtsp://%s:%d/stream" % (HOST, port), password=None, timeout=1)
    finally:
        for c in fillers:
            c.close()
        srv.close()
    assert r.returncode == 1
    assert "no answer from 127.0.0.1:%d within 1 s" % port in r.stderr


def test_keepalive_holds_a_session_longer_than_its_timeout(tmp_path):
    make_frames(tmp_path / "frames", n=2)
    # the session expires 1.5 s after the last request: only keepalives keep it playing
    with Server(tmp_path / "frames", "--fps", 10, "--timeout", 2, "--expire-ms", 1500) as srv:
        r = run_probe(srv.url(), "--json", "--transport", "udp", "--duration", "3.5")
    s = json.loads(r.stdout)
    assert r.returncode == 0 and s["ended_by_camera"] is False
    assert s["duration_s"] > 3.0 and s["frames"] >= 28


def test_a_camera_that_stalls_in_the_middle_of_an_interleaved_packet():
    # the probe waits at most a few seconds per read; a camera stalled mid-packet (lwIP's
    # retries can hold it 10 s) must not cost the packet's header, or everything after it
    # reads as garbage ("not an RTSP server")
    from tools import probe
    lst = socket.create_server((HOST, 0))
    try:
        conn = probe.Connection(probe.parse_url("rtsp://%s:%d/stream" % lst.getsockname()), 2)
        cam, _ = lst.accept()
        payload = bytes(range(16))
        cam.sendall(b"$\x00\x00\x10" + payload[:8])
        with pytest.raises(socket.timeout):
            conn.read_item(time.monotonic() + 0.2)
        cam.sendall(payload[8:] + b"$\x01\x00\x02ok")
        assert conn.read_item(time.monotonic() + 2) == (0, payload)
        assert conn.read_item(time.monotonic() + 2) == (1, b"ok")
        cam.close()
        conn.close()
    finally:
        lst.close()
