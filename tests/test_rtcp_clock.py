"""RTCP sender reports carry the camera's own clock (issue 10 item 6): the real app on the
emulated board with its RTC on the PC's clock (--rtc host), played by tools/probe.py, whose
"camera clock" offset is the NTP time of each sender report minus this PC's time when it
arrived (median). Before the fix the reports were 0.02-1.6 s behind: the whole-second RTC
was re-read only every 200 ms and its second change taken as the start of the second."""
import json
import os
import subprocess
import sys

import pytest

from tools import mpy

from .appkit import PASSWORD, app


def probe(url, *args):
    cmd = [sys.executable, "-m", "tools.probe", url, "--timeout", "10", "--json",
           "--password-env", "PROBE_PW", *args]
    env = dict(os.environ, PROBE_PW=PASSWORD)
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env, cwd=mpy.ROOT)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
def test_sender_reports_within_20_ms_of_the_camera_clock(tmp_path, transport):
    # sender reports go out at PLAY and every 5 s: 3 of them in 11 s
    with app(tmp_path, rtc="host") as (board, url):
        s = probe(url, "--transport", transport, "--duration", "11")
    print("%s: %d sender reports, median offset %+.3f s"
          % (transport, s["sender_reports"], s["clock_offset_s"]))
    assert s["sender_reports"] >= 3, s
    assert abs(s["clock_offset_s"]) < 0.020, s
