"""The camera loop over time on the emulator: NTP (a real chrony and hostile servers), stills
on the card, deep sleep when nobody watches, a WiFi drop, and a long soak with a viewer."""
import re
import time

import pytest

from tools import probe
from tools.sim import storage
from tools.sim.board import RTC_LOST

from . import appkit, ntpkit
from .camkit import ink_mismatch, overlay_references, overlay_region

def shows_unsynced(tmp_path, frame, overlay_cfg):
    ref = overlay_references(tmp_path, overlay_cfg, [None])[0]
    return ink_mismatch(frame, ref, overlay_region(ref)) < 0.01


def test_real_ntp_server_sets_the_rtc(tmp_path):
    port = ntpkit.free_udp_port()
    with ntpkit.chrony(tmp_path / "chrony", port):
        with appkit.app(tmp_path, ntp_port=port) as (b, url):
            b.wait_for(lambda k, t: k == "rtc", timeout=45)   # boot sync, or its retries under load
            assert abs(b.rtc_now() - time.time()) < 2


@pytest.mark.parametrize("mode", ["silent", "garbage", "short", "kod", "offset:-157680000",
                                  "offset:630720000"])
def test_hostile_ntp_answers_are_rejected(tmp_path, mode):
    ntp = ntpkit.HostileNtp(mode)
    changes = {"camera": {"mode": "overlay"}}
    try:
        with appkit.app(tmp_path, changes, ntp_port=ntp.port) as (b, url):
            b.wait_console("time:", timeout=20)
            frame = appkit.decode_frames(url, 2)[-1]
            assert ntp.queries >= 1
            assert not any(k == "rtc" for _, k, _ in b.events)
            assert b.rtc_now() < RTC_LOST + 3600          # still the power-loss date
            assert shows_unsynced(tmp_path, frame, appkit.config(changes)["overlay"])
            if mode == "kod":
                # a later good answer syncs (the app retries with a back-off)
                ntp.mode = "good"
                b.wait_for(lambda k, t: k == "rtc", timeout=40)
                assert abs(b.rtc_now() - time.time()) < 2
    finally:
        ntp.close()


@pytest.mark.parametrize("interval,expect", [(0, 1), (2, 3)])
def test_stills_on_request_and_interval_are_the_sensor_jpegs(tmp_path, interval, expect):
    ntp = ntpkit.HostileNtp("good")
    changes = {"stills": {"interval_s": interval}, "camera": {"quality": 60}}
    try:
        with appkit.app(tmp_path, changes, ntp_port=ntp.port) as (b, url):
            b.wait_for(lambda k, t: k == "rtc", timeout=45)   # boot sync, or its retries under load
            # what a user types: python -m tools.probe URL --snapshot
            assert probe.main([url, "--snapshot"]) == 0
            stats = probe.probe(url, duration=5)
            jpegs = {bytes(r.data) for r in b.camera.frames_of("jpeg")}
            day = time.strftime("%Y-%m-%d", time.gmtime(b.rtc_now()))
    finally:
        ntp.close()
    assert stats.frames > 50
    names = [n for n in storage.list_dir(b.sd_image, "/stills/" + day) if n.endswith(".jpg")]
    if interval:
        assert len(names) >= expect, storage.list_dir(b.sd_image, "/", recursive=True)
    else:
        assert len(names) == expect, storage.list_dir(b.sd_image, "/", recursive=True)
    for n in names:
        base = n.rsplit("/", 1)[-1]
        assert re.fullmatch(r"%s-\d{6}(_\d\d)?\.jpg" % day.replace("-", ""), base), base
        data = storage.read_file(b.sd_image, "stills/%s/%s" % (day, base))
        assert data in jpegs                  # the very JPEG the sensor gave, not re-encoded
    assert names == sorted(names)


def test_card_trouble_never_stops_the_stream(tmp_path):
    changes = {"stills": {"interval_s": 1}}
    with appkit.app(tmp_path, changes) as (b, url):
        before = probe.probe(url, duration=2)
        b.sd.remove()
        after = probe.probe(url, duration=4)
        b.wait_for(lambda k, t: k == "storage", timeout=5)
    assert before.frames > 20 and after.frames > 40
    assert "card" in appkit.log_text(b, "flash")


def test_deep_sleep_cycle_wakes_streams_sleeps_and_p11(tmp_path):
    changes = {"power": {"deep_sleep": True, "grace_period_s": 2, "sleep_duration_s": 600,
                         "awake_window_s": 5}}
    with appkit.app(tmp_path, changes, time_scale=0.005) as (b, url):
        assert probe.probe(url, duration=1).frames > 10
        b.wait_for(lambda k, t: k == "sleep", timeout=15)          # grace period, then sleep
        b.wait_for(lambda k, t: k == "wake" and "timer" in t, timeout=15)
        n = len(b.console)
        url = appkit.stream_url(b, start=n - 5 if n > 5 else 0)
        b.wait_console("woke from deep sleep", start=n - 5 if n > 5 else 0, timeout=15)
        assert probe.probe(url, duration=1).frames > 10            # a new viewer after the wake
        i = b.wait_for(lambda k, t: k == "sleep", timeout=15,
                       start=[j for j, e in enumerate(b.events) if e[1] == "wake"][-1])
        b.pulse_p11()
        b.wait_for(lambda k, t: k == "wake" and "P11" in t, timeout=10, start=i)
        j = b.wait_for(lambda k, t: k == "boot" and "#3" in t, timeout=10)
        # nobody comes in the awake window: asleep again
        b.wait_for(lambda k, t: k == "sleep", timeout=20, start=j)
        time.sleep(0.5)
        sleeps = sum(1 for _, k, _ in b.events if k == "sleep")
    log = appkit.log_text(b, "sd")
    assert sleeps == 3
    assert log.count("going to deep sleep") == 3, log
    assert log.count("woke from deep sleep") == 2, log
    assert log.count("first viewer started playing") == 2


def test_wifi_drop_reconnects_and_a_viewer_can_watch_again(tmp_path):
    with appkit.app(tmp_path) as (b, url):
        assert probe.probe(url, duration=1).frames > 10
        n = len(b.console)
        b.wifi.drop(new_ip="127.0.0.2")
        line = b.wait_console("Stream URL:", start=n, timeout=30)
        assert "127.0.0.2" in line
        url2 = url.replace("127.0.0.1", "127.0.0.2")
        assert probe.probe(url2, duration=2).frames > 20
        console = "\n".join(b.console)
    assert "connected to testnet as 127.0.0.2" in console
    assert "link lost" in appkit.log_text(b, "sd")          # warnings reach the file at once


@pytest.mark.long
def test_soak_ten_thousand_frames_flat_heap(tmp_path):
    changes = {"logging": {"health_s": 5}, "camera": {"quality": 50}}
    with appkit.app(tmp_path, changes, fps=90) as (b, url):
        stats = probe.probe(url, frames=10000, duration=400)
        time.sleep(0.2)
        lines = [line for line in b.console if "health:" in line]
    assert stats.frames >= 10000, stats
    heap = [int(re.search(r"free heap (\d+)", line).group(1)) for line in lines]
    assert len(heap) >= 8, lines
    steady = heap[2:]                     # after start-up
    half = len(steady) // 2
    # flat: the free heap after a collection does not shrink from the first half to the second
    assert min(steady[half:]) >= min(steady[:half]) - 2048, heap
