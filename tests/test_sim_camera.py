"""The emulated camera: csi/sensor/image in real MicroPython against the host CameraModel.

Each test starts a BusServer with only the camera's handlers, runs a short MicroPython
script (tools/sim/device on its path) and checks what the script saw against what the
model produced (CameraModel.history).
"""
import hashlib
import io
import re
import time

import numpy as np
import pytest
from PIL import Image

from tools import mpy
from tools.sim import camera as cammod
from tools.sim import frames
from tools.sim.camera import CameraModel, FB_POOL_BYTES

from .camkit import FW45, FW48, FW50, board, run  # noqa: F401


def segments(data):
    """(marker, payload) list of a JPEG up to SOS, and whether it ends with EOI."""
    assert data[:2] == b"\xff\xd8"
    segs, i = [], 2
    while True:
        assert data[i] == 0xFF
        marker, n = data[i + 1], int.from_bytes(data[i + 2:i + 4], "big")
        segs.append((marker, data[i + 4:i + 2 + n]))
        i += 2 + n
        if marker == 0xDA:
            return segs, data.endswith(b"\xff\xd9")


def reference_dht():
    """The Huffman tables libjpeg writes without optimisation (the standard ones)."""
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (90, 20, 200)).save(out, "JPEG", optimize=False)
    return b"".join(body for m, body in segments(out.getvalue())[0] if m == 0xC4)


def sampling(data):
    """Luma sampling byte of SOF0 (0x21 = 4:2:2); asserts the camera's JPEG layout."""
    segs, eoi = segments(data)
    markers = [m for m, _ in segs]
    assert eoi
    assert markers.count(0xDB) == 1 and markers.count(0xC4) == 1 and 0xDD not in markers
    assert 0xC0 in markers and not {0xC1, 0xC2, 0xC3} & set(markers)     # baseline
    dqt = dict(segs)[0xDB]
    assert len(dqt) == 130 and dqt[0] == 0x00 and dqt[65] == 0x01   # both 8-bit tables
    dht = dict(segs)[0xC4]
    assert _tables(dht) == _tables(reference_dht()) and len(_tables(dht)) == 4
    sof = dict(segs)[0xC0]
    assert sof[5] == 3 and sof[10] == sof[13] == 0x11     # 3 components, chroma 1x1
    assert (sof[8], sof[11], sof[14]) == (0, 1, 1)          # luma table 0, chroma table 1
    return sof[7]


def _tables(dht):
    out, j = {}, 0
    while j < len(dht):
        n = sum(dht[j + 1:j + 17])
        out[dht[j]] = dht[j + 1:j + 17 + n]
        j += 17 + n
    return out


def decode(data):
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_pool_constant_is_shared_and_fits_three_hd_buffers():
    device = (mpy.DEVICE / "_fb.py").read_text()
    assert int(re.search(r"^FB_POOL_BYTES = (\d+)", device, re.M).group(1)) == FB_POOL_BYTES
    assert CameraModel.FB_POOL_BYTES == FB_POOL_BYTES
    assert 3 * (16 + 1280 * 720 * 2) <= FB_POOL_BYTES


@pytest.mark.parametrize("fw", [FW45, (4, 7, 0), FW48, FW50])
def test_firmware_gets_the_sensors_jpeg_frames(fw, tmp_path):
    with board(fw) as (cam, srv):
        out = run(srv, """
            try:
                import csi
            except ImportError:
                csi = None
            R("csi", csi is not None)
            if csi and not hasattr(csi, "CSI"):
                csi = None                    # 4.6-4.7: `csi` is the legacy sensor module
            else:
                R("stream", csi and err(csi.CSI, stream=False))
            import sensor, image
            sensor.reset()
            sensor.set_pixformat(sensor.JPEG)
            sensor.set_framesize(sensor.HD)
            sensor.set_quality(70)
            R("fbs", sensor.get_framebuffers())
            img = sensor.snapshot()
            R("legacy", [sensor.width(), sensor.height(), img.width(), img.height(),
                         img.format() == image.JPEG, img.size(), sha(img)])
            if csi:
                c = csi.CSI()
                c.reset()
                c.pixformat(csi.JPEG)
                c.framesize(csi.HD)
                c.quality(60)
                img = c.snapshot()
                R("csi_img", [c.width(), c.height(), img.size(), sha(memoryview(img))])
        """, tmp_path)
        jpegs = cam.frames_of("jpeg")
    assert out["csi"] == (fw >= (4, 6, 0))
    if fw >= FW48:                            # CSI(stream=) exists from 5.0 only
        assert out["stream"] == (None if fw >= FW50 else
                                 ["TypeError", "unexpected keyword argument 'stream'"])
    assert out["fbs"] == 3
    w, h, iw, ih, is_jpeg, size, digest = out["legacy"]
    assert (w, h, iw, ih, is_jpeg) == (1280, 720, 1280, 720, True)
    first = jpegs[0]
    assert (size, digest) == (len(first.data), hashlib.sha256(first.data).hexdigest())
    assert decode(first.data).shape == (720, 1280, 3)
    assert sampling(first.data) == 0x21 and first.quality == 70
    if fw >= FW48:
        last = jpegs[-1]
        assert out["csi_img"] == [1280, 720, len(last.data), hashlib.sha256(last.data).hexdigest()]
        assert last.quality == 60


def test_snapshot_is_paced_like_the_sensor(tmp_path):
    fps = 20.0
    with board(fps=fps) as (cam, srv):
        out = run(srv, """
            import time, csi
            c = csi.CSI()
            c.reset()
            c.pixformat(csi.JPEG)
            c.framesize(csi.QVGA)
            c.snapshot()
            t = time.ticks_ms()
            for i in range(6):
                c.snapshot()
            R("six_ms", time.ticks_diff(time.ticks_ms(), t))
            R("nb_now", c.snapshot(blocking=False) is None)
            time.sleep_ms(80)
            R("nb_later", c.snapshot(blocking=False) is not None)
            time.sleep_ms(170)
            c.snapshot()
        """, tmp_path)
        ids = [r.frame_id for r in cam.frames_of("jpeg")]
    # never faster than the sensor: six new frames span at least five frame periods (the
    # first may already be waiting when a busy machine runs the script late)
    assert out["six_ms"] >= 5 * 1000 / fps - 10
    assert ids[:7] == list(range(ids[0], ids[0] + 7))    # read fast enough: no frame lost
    assert out["nb_now"] and out["nb_later"]
    assert ids[-1] - ids[-2] >= 3                        # a slow reader gets the newest frame


def test_synthetic_frames_move_and_carry_their_id():
    src = frames.SyntheticSource()
    a = src.frame(640, 360, 41, 1.0)
    b = src.frame(640, 360, 42, 1.0 + 1 / 30)
    assert a.shape == (360, 640, 3) and (a != b).any()
    moved = (a != b).any(axis=2)
    assert moved[40:].sum() > 500                        # motion, not just the id blocks
    for fid, rgb in ((41, a), (42, b)):
        assert frames.read_frame_id(decode(frames.encode_jpeg(rgb, 50))) == fid


def test_model_records_history_with_ids_in_the_picture():
    with board(fps=200.0, history=5) as (cam, srv):
        snap = cam.handlers()["cam_snapshot"]
        hdr = cammod._SNAP.pack(cammod.JPEG, 320, 240, 80, 1)
        got = [snap(hdr) for _ in range(7)]
        recs = cam.frames_of()
    assert len(recs) == 5 and [r.data for r in recs] == got[2:]
    for r in recs:
        assert frames.read_frame_id(decode(r.data)) == r.frame_id
        assert abs(r.time - time.time()) < 5


def test_file_source_gives_frames_of_the_requested_size(tmp_path):
    import av
    path = tmp_path / "clip.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mjpeg", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuvj420p"
        for i in range(3):
            rgb = np.full((48, 64, 3), 60 * i, dtype=np.uint8)
            for pkt in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(pkt)
        for pkt in stream.encode():
            out.mux(pkt)
    src = frames.open_source("file:%s" % path)
    try:
        shots = [src.frame(32, 24, i, i / 30) for i in range(5)]
    finally:
        src.close()
    assert all(s.shape == (24, 32, 3) for s in shots)
    levels = [int(s.mean()) for s in shots]
    assert levels[0] < levels[1] < levels[2] and abs(levels[3] - levels[0]) < 8   # looped
    with pytest.raises(ValueError):
        frames.open_source("rtsp://example")


def test_to_jpeg_in_place_subsampling_and_views(tmp_path):
    with board() as (cam, srv):
        out = run(srv, """
            import csi, image
            c = csi.CSI()
            c.reset()
            c.pixformat(csi.RGB565)
            c.framesize(csi.QVGA)
            res = []
            for q, sub in ((80, image.JPEG_SUBSAMPLING_422), (80, image.JPEG_SUBSAMPLING_420),
                           (90, image.JPEG_SUBSAMPLING_AUTO), (50, image.JPEG_SUBSAMPLING_AUTO),
                           (30, image.JPEG_SUBSAMPLING_AUTO)):
                img = c.snapshot()
                before = len(memoryview(img))
                ret = img.to_jpeg(quality=q, subsampling=sub)
                res.append([before, ret is img, img.format() == image.JPEG, img.size(),
                            len(memoryview(img)), sha(img)])
            R("res", res)
            ba = img.bytearray()
            ba[200] ^= 0xFF
            R("view", [len(ba), img.size(), memoryview(img)[200] == ba[200]])
            R("again", img.compress(quality=70) is img)
            R("bad_q", err(c.snapshot().to_jpeg, quality=0))
            R("draw_jpeg", err(img.draw_rectangle, (0, 0, 4, 4)))
        """, tmp_path)
        recs = cam.frames_of("to_jpeg")
    assert len(recs) == 5
    expect = [0x21, 0x22, 0x11, 0x21, 0x22]
    for r, row, sub in zip(recs, out["res"], expect):
        before, same, is_jpeg, size, view, digest = row
        assert before == 320 * 240 * 2 and same and is_jpeg
        assert size == view == len(r.data) and digest == hashlib.sha256(r.data).hexdigest()
        assert sampling(r.data) == sub
    assert out["view"][0] == out["view"][1] and out["view"][2]
    assert out["again"] is True
    assert out["bad_q"][0] == "ValueError"
    assert out["draw_jpeg"][0] == "ValueError"


@pytest.mark.parametrize("fw", [FW45, FW48, FW50])
def test_draw_string_form_follows_the_firmware(fw, tmp_path):
    with board(fw) as (cam, srv):
        out = run(srv, """
            import sensor, image
            sensor.reset()
            sensor.set_pixformat(sensor.RGB565)
            sensor.set_framesize(sensor.QQVGA)
            img = sensor.snapshot()
            R("old", err(img.draw_string, 2, 2, "hi", color=(255, 0, 0), scale=1.5))
            R("new", err(img.draw_string, (2, 2), "hi", color=(255, 0, 0), scale=1.5))
            R("rect", err(img.draw_rectangle, (1, 1, 5, 5), color=(0, 0, 0), fill=True))
            R("save_pos", err(img.save, "pos.jpg", None, 80))
            R("save_kw", err(img.save, "kw.jpg", quality=80))
            sensor.set_pixformat(sensor.JPEG)
            img = sensor.snapshot()
            R("jpeg_draw", err(img.draw_string, (2, 2) if %r else 2, 2, "x"))
        """ % (fw >= FW50,), tmp_path)
    if fw >= FW50:
        assert out["new"] is None and out["old"][0] == "TypeError"
        assert out["save_pos"][0] == "TypeError"
    else:
        assert out["old"] is None and out["new"][0] == "ValueError"     # as on the camera
        assert out["save_pos"] is None
    assert out["rect"] is None and out["save_kw"] is None
    assert out["jpeg_draw"][0] == "ValueError"
    saved = Image.open(tmp_path / "kw.jpg")
    assert saved.format == "JPEG" and saved.size == (160, 120)


def test_overlay_text_survives_jpeg_and_is_legible(tmp_path):
    with board() as (cam, srv):
        run(srv, """
            import csi, image
            c = csi.CSI()
            c.reset()
            c.pixformat(csi.RGB565)
            c.framesize(csi.QVGA)
            def overlay(img, text):
                img.draw_rectangle((8, 8, 210, 30), color=(0, 0, 0), fill=True)
                img.draw_string((12, 12), text, color=(255, 255, 255), scale=2)
            img = c.snapshot()
            overlay(img, "CAM 12:34:56")
            img.to_jpeg(quality=80, subsampling=image.JPEG_SUBSAMPLING_422)
            for name, text in (("ref", "CAM 12:34:56"), ("alt", "CAM 12:34:57")):
                blank = image.Image(320, 240, image.RGB565)
                overlay(blank, text)
                blank.save(name + ".bmp")
        """, tmp_path)
        frame = cam.frames_of("to_jpeg")[-1]

    def ink(rgb):
        return rgb[8:38, 8:218].mean(axis=2) > 128

    got = ink(decode(frame.data))
    ref = ink(np.asarray(Image.open(tmp_path / "ref.bmp").convert("RGB")))
    alt = ink(np.asarray(Image.open(tmp_path / "alt.bmp").convert("RGB")))
    assert ref.sum() > 300                                # text was drawn, white on black
    assert (got != ref).mean() < 0.02                     # the frame shows exactly that text
    assert (got != alt).sum() > 3 * max(1, (got != ref).sum())   # and not another one


def test_capture_errors_shutdown_and_frame_buffers(tmp_path):
    with board() as (cam, srv):
        cam.inject_capture_errors(2)
        out = run(srv, """
            import csi
            c = csi.CSI()
            c.reset()
            c.pixformat(csi.RGB565)
            c.framesize(csi.HD)
            R("errors", [err(c.snapshot) for i in range(3)])
            R("fbs_hd", c.framebuffers())
            R("fbs_4", err(c.framebuffers, 4))
            c.framesize(csi.FHD)
            R("fbs_fhd", c.framebuffers())
            R("qhd", err(c.framesize, csi.QHD))
            c.framesize(csi.VGA)
            c.framebuffers(2)
            R("fbs_vga", c.framebuffers())
            c.shutdown(True)
            R("shut", err(c.snapshot))
            c.reset()
            R("unset", err(c.snapshot))
            c.pixformat(csi.GRAYSCALE)
            c.framesize(csi.QVGA)
            R("gray", c.snapshot().size())
            R("skip", c.snapshot(time=100))
        """, tmp_path)
        before, after = cam.frames_of()[-1].frame_id, cam.last_frame_id
    e1, e2, ok = out["errors"]
    assert e1 == e2 == ["RuntimeError", cammod.CAPTURE_TIMEOUT] and ok is None
    assert out["fbs_hd"] == 3 and out["fbs_4"][0] == "RuntimeError"
    assert out["fbs_fhd"] == 1 and out["qhd"][0] == "RuntimeError"
    assert out["fbs_vga"] == 2
    assert out["shut"][0] == "RuntimeError"
    assert out["unset"][0] == "RuntimeError"
    assert out["gray"] == 320 * 240
    assert out["skip"] is None and after - before >= 2
