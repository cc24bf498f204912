"""Stills at stills.quality (not the stream's): the real app on the emulated board with the
camera's network stack and a slow link, so the adaptive stream runs well below camera.quality
(test_app_adaptive.py); a still requested meanwhile is saved at stills.quality, judged from
the saved file's quantisation table, while the stream goes on."""
import io
import threading

from PIL import Image

from tools import probe
from tools.sim import storage

from . import appkit
from .test_app_adaptive import BOARD, get_param, wait_param


def test_a_still_has_stills_quality_while_a_slow_link_streams_lower(tmp_path):
    changes = {"camera": {"quality": 80}, "stream": {"target_fps": 10},
               "stills": {"quality": 90}}
    got = {}
    with appkit.app(tmp_path, changes, **BOARD) as (b, url):
        viewer = threading.Thread(
            target=lambda: got.update(s=probe.probe(url, duration=8, timeout=15)))
        viewer.start()
        try:
            streamed = wait_param(url, "quality", lambda q: q < 70, timeout=6)
            probe.request_still(url)
            viewer.join(20)
        finally:
            viewer.join(20)
        after = get_param(url, "quality")       # within a second of the viewer leaving
    s = got["s"]
    names = [n for n in storage.list_dir(b.sd_image, "/stills", recursive=True)
             if n.endswith(".jpg")]
    assert len(names) == 1, storage.list_dir(b.sd_image, "/", recursive=True)
    data = storage.read_file(b.sd_image, names[0].lstrip("/"))
    img = Image.open(io.BytesIO(data))
    still_q = probe.quality_of_table(img.quantization[0])
    print("stream at quality %d (tables %s, %.2f fps, %.1f kB/frame); still %s: %d bytes, "
          "%dx%d, tables say quality %d; quality after %d"
          % (streamed, s.quality_tables, s.fps, s.avg_frame_kb, names[0], len(data),
             img.width, img.height, still_q, after))
    assert streamed < 70
    assert still_q == 90 and img.size == (1280, 720)    # above camera.quality too
    assert s.fps >= 5, s                    # the stream went on meanwhile (its rate: make bench)
    assert s.quality_tables[0] < 70         # at the adaptive quality...
    assert after < 80                       # ...and back to it after the still
