"""The emulator's network model on the board (tools/sim/device/_lwip.py): a viewer on the PC
gets the camera's link rate, not the loopback's; the options reach the firmware. The limits
one by one are tested inside MicroPython: tests/firmware/mp_test_sim_lwip.py."""
import ast
import socket
import time

import pytest

from tools.sim.__main__ import parse_args

from .rtsp_support import free_port
from .simkit import make_app, results, running

FRAME = 150000

SENDER = """
import socket, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 554))
s.listen(1)
print("RESULT listening")
c, a = s.accept()
frame = bytearray(%d)
t0 = time.ticks_ms()
c.write(frame)                  # blocking: one JPEG handed over in one call
print("RESULT wrote in", time.ticks_diff(time.ticks_ms(), t0))
c.close()                       # lwIP still sends the last send buffer...
time.sleep_ms(3000)             # ...while the app goes on (here: sleeps)
s.close()
""" % FRAME


def _fetch(port, timeout=10):
    """Connect as a viewer, read until the camera closes; (bytes, seconds)."""
    c = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    got, t0 = 0, time.monotonic()
    try:
        while True:
            data = c.recv(65536)
            if not data:
                break
            got += len(data)
    finally:
        c.close()
    return got, time.monotonic() - t0


@pytest.mark.parametrize("model,rate", [(True, 600000), (True, 300000), (False, 0)])
def test_viewer_gets_the_link_rate(tmp_path, model, rate):
    port = free_port()
    app = make_app(tmp_path / "app", main=SENDER)
    kw = dict(net_model=model, link_rate=rate) if model else dict(net_model=False)
    with running(app, tmp_path / "run", rtsp_port=port, **kw) as b:
        results(b)
        got, took = _fetch(port)
        wrote_ms = int(results(b, "RESULT wrote in", timeout=20))
    assert got == FRAME
    if model:
        least = (FRAME - 6400) / rate      # the first send buffer goes at once
        assert took >= least * 0.95, "%.3f s for %d bytes at %d B/s" % (took, FRAME, rate)
        assert took <= least * 2 + 0.5
        assert wrote_ms >= least * 1000 * 0.95   # the app's blocking write waited as long
    else:
        assert took < 0.2, took             # plain loopback: a few ms


def test_options_reach_the_firmware(tmp_path):
    app = make_app(tmp_path / "app", main="""
        import _lwip
        print("RESULT", repr((_lwip.ON, _lwip.rate, _lwip.rtt_us, _lwip.loss, _lwip.dns)))
    """)
    with running(app, tmp_path / "run", net_model=True, link_rate=250000, link_rtt_ms=20,
                 link_loss=0.25, dns="none") as b:
        on, rate, rtt_us, loss, dns = ast.literal_eval(results(b))
    assert (on, rate, rtt_us, loss, dns) == (True, 250000, 20000, 1 << 22, "none")


def test_cli_flags():
    a = parse_args(["--net-model", "on", "--link-rate", "250", "--link-rtt", "20",
                    "--link-loss", "25", "--dns", "none"])
    assert (a.net_model, a.link_rate, a.link_rtt, a.link_loss, a.dns) == ("on", 250, 20, 25, "none")
    assert parse_args([]).net_model == "off"
