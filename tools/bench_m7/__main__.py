"""Instructions per 720p frame of rtspd's send path on an emulated Cortex-M7.

    python -m tools.bench_m7 [--repeat N] [--jpeg FILE ...]      (make bench-m7)

Runs tools/bench_m7/target.py on the Cortex-M7 tool (../shared/tools/cortex-m7, or $M7_TOOL:
MicroPython's qemu port in QEMU with -icount, the camera's Thumb-2 code generator and its 32-bit
integers) for two 1280x720 4:2:2 JPEGs of about 60 and 150 KB (made here, or --jpeg files).
Viewers are stub sockets that take everything, so the figures are the send path's own work:
JPEG parse, RTP/JPEG packets, writes. Printed per frame: instructions (median of N runs, +-80),
heap bytes allocated (GC off), and per packet (the heap difference between the two frames over
their packet difference), for
  minimal   tools/bench_m7/minimal.py: header pack_into + write(buf, off, n) per packet, one
            TCP viewer, nothing else (the floor)
  native    rtspd with its machine-code (viper) primitives
  python    rtspd with its plain-Python primitives (what the camera falls back to)
with 1, 2 and 4 TCP viewers and 1 UDP viewer. Counts are instructions, not cycles: QEMU has no
caches or wait states. Compare rows with each other.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tools import mpy

TOOL = Path(os.environ.get("M7_TOOL") or mpy.ROOT.parent / "shared" / "tools" / "cortex-m7")
HERE = Path(__file__).resolve().parent
CLAIMS = {}             # name -> instructions, from the target's CLAIM lines
ROW = re.compile(r"ROW (\S+) jpeg=(\d+) path=(\w+) tcp=(\d+) udp=(\d+) cap=(\d+) packets=(\d+) "
                 r"insn=(\d+) min=(\d+) max=(\d+) heap=(-?\d+)")


def make_jpeg(path, target):
    """A 1280x720 4:2:2 baseline JPEG with standard Huffman tables, of about target bytes."""
    from tools.bench_send import make_jpegs
    with tempfile.TemporaryDirectory() as tmp:
        make_jpegs(tmp, target, n=1)
        shutil.copy(os.path.join(tmp, "f0.jpg"), path)


def run(jpegs, repeat, timeout=1200):
    """Run the target on the tool; returns the parsed rows (dicts)."""
    if not (TOOL / "m7run.py").is_file():
        raise SystemExit("Cortex-M7 tool not found at %s (set M7_TOOL)" % TOOL)
    if shutil.which("qemu-system-arm") is None:
        raise SystemExit("qemu-system-arm is not installed (apt-get install qemu-system-arm)")
    with tempfile.TemporaryDirectory(prefix="bench-m7-") as tmp:
        jdir = Path(tmp) / "jpegs"
        jdir.mkdir()
        names = []
        for i, j in enumerate(jpegs):
            name = "%d_%s" % (i, Path(j).name)
            shutil.copy(j, jdir / name)
            names.append("/rom/jpegs/" + name)
        bench = Path(tmp) / "bench"
        bench.mkdir()
        shutil.copy(HERE / "minimal.py", bench / "minimal.py")
        shutil.copy(mpy.ROOT / "tests" / "firmware" / "rtspd_kit.py", bench / "rtspd_kit.py")
        cmd = [sys.executable, str(TOOL / "m7run.py"), "--icount", "--timeout", str(timeout),
               "--path", str(mpy.LIB), "--path", str(jdir), "--path", str(bench),
               str(HERE / "target.py")] + names + ["--repeat", str(repeat)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 60)
    out = proc.stdout + proc.stderr
    if proc.returncode or "DONE" not in out:
        raise SystemExit("the benchmark failed on the tool:\n" + out[-3000:])
    global CLAIMS
    CLAIMS = dict((m[1], int(m[2])) for m in re.finditer(r"CLAIM (\w+) (-?\d+)", out))
    rows = []
    for m in ROW.finditer(out):
        rows.append(dict(name=m[1], jpeg=int(m[2]), path=m[3], tcp=int(m[4]), udp=int(m[5]),
                         cap=int(m[6]), packets=int(m[7]), insn=int(m[8]), min=int(m[9]),
                         max=int(m[10]), heap=int(m[11])))
    return rows


def _key(r):
    return r["path"], r["tcp"], r["udp"], r["cap"]


def table(rows):
    """The rows as a Markdown table, with the ratio to the minimal sender and heap per packet."""
    floor = {r["name"]: r["insn"] for r in rows if r["path"] == "minimal"}
    sizes = sorted({(r["jpeg"], r["name"]) for r in rows})
    per_packet = {}
    if len(sizes) >= 2:
        (_, a), (_, b) = sizes[0], sizes[-1]
        for r in rows:
            if r["name"] == a:
                o = [x for x in rows if x["name"] == b and _key(x) == _key(r)]
                if o and o[0]["packets"] != r["packets"]:
                    per_packet[_key(r)] = \
                        (o[0]["heap"] - r["heap"]) / (o[0]["packets"] - r["packets"])
    lines = ["| JPEG | path | viewers | packets | M insn/frame | x minimal | insn/JPEG byte "
             "| heap B/frame | heap B/packet |", "|---|---|---|---|---|---|---|---|---|"]
    for size, name in sizes:
        for r in [x for x in rows if x["name"] == name]:
            viewers = "%d TCP" % r["tcp"] if r["tcp"] else "%d UDP" % r["udp"]
            if r["cap"]:
                viewers += " (%d B/write)" % r["cap"]
            pp = per_packet.get(_key(r))
            lines.append("| %.0f KB | %s | %s | %d | %.2f | %.2f | %.1f | %d | %s |" % (
                size / 1000, r["path"], viewers, r["packets"], r["insn"] / 1e6,
                r["insn"] / floor[name], r["insn"] / size, r["heap"],
                "%.2f" % pp if pp is not None else "-"))
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.bench_m7",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--jpeg", action="append", help="a 720p JPEG to measure (repeatable; "
                    "default: two made here, about 60 and 150 KB)")
    ap.add_argument("--repeat", type=int, default=5, help="runs per figure (median; default 5)")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        jpegs = a.jpeg
        if not jpegs:
            jpegs = []
            for target in (60000, 150000):
                p = os.path.join(tmp, "%dk.jpg" % (target // 1000))
                make_jpeg(p, target)
                jpegs.append(p)
        rows = run(jpegs, a.repeat)
    print("rtspd send path on the Cortex-M7 tool (QEMU -icount, MicroPython qemu port), "
          "1280x720 JPEG, stub sockets; median of %d runs" % a.repeat)
    print()
    print(table(rows))
    c = CLAIMS
    if c:
        print()
        print("What the send path is built on (instructions, 1380 bytes copied):")
        print("- slice assignment into a memoryview over a 200 KB slot: %d; into a 1380-byte "
              "window of it: %d (the first moves the rest of the slot)"
              % (c["slice_into_whole_slot_memoryview"], c["slice_into_window"]))
        print("- viper byte loop: %d; C copy by stream.readinto, word-aligned: %d, misaligned: %d"
              % (c["viper_byte_copy_1380"], c["readinto_1380_aligned"],
                 c["readinto_1380_misaligned"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
