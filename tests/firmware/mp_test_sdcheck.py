# The SD card check at boot: each card fault on each drive layout ends with the app running
# from flash and the reason recorded; a healthy card is used; main.py finds the same decision.
import os
import sys
import json
from fakes import Board, RamDisk, fill, put, get
import sdcheck
import storage


def boot(b):
    return sdcheck.boot(b.card, b.flash, delay_ms=1)


def assert_on_flash(d, flash_path, code):
    assert d is not None
    assert not d["card_ok"], d
    assert d["reason"].startswith(code), d["reason"]
    assert d["app"] == flash_path
    assert os.getcwd() == flash_path
    # the flash copy is what the firmware runs next, and nothing is imported from the card
    assert get("main.py") == "print('app from flash')\n"
    assert "/sdcard" not in sys.path and "/sdcard/lib" not in sys.path
    assert sys.path.index(storage.join(flash_path, "lib")) > sys.path.index(".frozen")
    state = json.loads(get(storage.join(flash_path, sdcheck.STATE_FILE)))
    assert state["reason"] == d["reason"] and state["card_ok"] is False


def test_healthy_card_on_46_runs_the_card_copy_first():
    with Board("split", RamDisk(2048)) as b:
        d = boot(b)
        assert d["card_ok"] and d["reason"] == ""
        assert d["card"] == "/sdcard" and d["flash"] == "/flash" and d["app"] == "/sdcard"
        assert os.getcwd() == "/sdcard"
        assert get("main.py") == "print('app from card')\n"
        # the firmware puts /flash/lib first; the card's own modules must win when it runs
        assert sys.path.index("/sdcard/lib") < sys.path.index("/flash/lib")
        assert sdcheck.PROBE_FILE not in os.listdir("/sdcard")


def test_probe_really_writes_the_card():
    card = RamDisk(2048)
    with Board("split", card) as b:
        before = card.writes
        boot(b)
        assert card.writes - before >= sdcheck.PROBE_BYTES // 512


def test_no_card_on_46_and_45():
    for kind in ("split", "root"):
        card = RamDisk(2048)
        card.inserted = False
        with Board(kind, card) as b:
            d = boot(b)
            assert_on_flash(d, "/flash" if kind == "split" else "/", sdcheck.NO_CARD)


def test_unformatted_card():
    for kind in ("split", "root"):
        with Board(kind, RamDisk(2048, fat=False)) as b:
            assert_on_flash(boot(b), "/flash" if kind == "split" else "/", sdcheck.UNFORMATTED)


def test_card_with_read_errors_does_not_mount():
    for kind in ("split", "root"):
        card = RamDisk(2048)
        card.fault = "read"
        with Board(kind, card) as b:
            assert_on_flash(boot(b), "/flash" if kind == "split" else "/", sdcheck.READ_ERROR)


def test_card_whose_reads_return_eio_is_a_read_error_not_unformatted():
    # machine.SDCard.readblocks returns -EIO (an int) on a failed read instead of raising
    for kind in ("split", "root"):
        card = RamDisk(2048)
        card.fault = "eio"
        with Board(kind, card) as b:
            d = boot(b)
            assert_on_flash(d, "/flash" if kind == "split" else "/", sdcheck.READ_ERROR)
            assert "EIO" in d["reason"], d["reason"]


def test_write_errors_readonly_and_lying_card_on_46():
    for fault, code in (("write", sdcheck.WRITE_ERROR), ("readonly", sdcheck.WRITE_ERROR),
                        ("lie", sdcheck.BAD_DATA)):
        card = RamDisk(2048)
        card.fault = fault
        with Board("split", card) as b:
            assert "sdcard" in os.listdir("/")     # the firmware mounted it
            d = boot(b)
            assert_on_flash(d, "/flash", code)
            assert "sdcard" not in os.listdir("/"), "the untrusted card stays mounted"


def test_probe_without_os_urandom_4_5_2():
    # firmware 4.5.0-4.5.2 has no os.urandom: the probe still runs, and its data differs at
    # every check (a card that kept an earlier probe's blocks must not pass)
    import entropy
    saved = entropy.HARDWARE, sdcheck._write_probe
    entropy.HARDWARE = False
    written = []

    def spy(path, data):
        written.append(bytes(data))
        return saved[1](path, data)
    sdcheck._write_probe = spy
    try:
        card = RamDisk(2048)
        for _ in range(3):
            with Board("root", card) as b:
                assert boot(b)["card_ok"]
    finally:
        entropy.HARDWARE, sdcheck._write_probe = saved
    assert len(written) == 3 and len(set(written)) == 3
    assert all(len(w) == sdcheck.PROBE_BYTES for w in written)


def test_bad_card_as_root_on_45_mounts_flash_and_runs_its_copy():
    for fault, code in (("write", sdcheck.WRITE_ERROR), ("lie", sdcheck.BAD_DATA)):
        card = RamDisk(2048)
        card.fault = fault
        with Board("root", card) as b:
            assert "/lib" in sys.path
            d = boot(b)
            assert d["flash"] == "/flash"
            assert_on_flash(d, "/flash", code)
            assert "/lib" not in sys.path, "the card's lib/ must not be imported"


def test_healthy_card_as_root_on_45():
    with Board("root", RamDisk(2048)) as b:
        d = boot(b)
        assert d["card_ok"] and d["card"] == "/" and d["app"] == "/"
        assert d["flash"] == "/flash"        # mounted beside the card for state and fallback
        assert "/lib" in sys.path
        assert storage.exists("/flash/" + sdcheck.STATE_FILE)


def test_full_card():
    card = RamDisk(2048)
    with Board("split", card) as b:
        fill("/sdcard", leave=8 * 1024)
        assert_on_flash(boot(b), "/flash", sdcheck.FULL)


def test_card_full_of_our_own_stills_is_pruned_not_abandoned():
    card = RamDisk(2048)
    with Board("split", card) as b:
        os.mkdir("/sdcard/stills")
        i = 0
        while storage.free_bytes("/sdcard") > 64 * 1024:
            put("/sdcard/stills/%05d.jpg" % i, "x" * 8000)
            i += 1
        d = boot(b)
        assert d["card_ok"], d["reason"]
        left = sorted(os.listdir("/sdcard/stills"))
        assert left and left[0] != "00000.jpg"        # the oldest went first
        assert left[-1] == "%05d.jpg" % (i - 1)       # the newest are kept


def test_card_that_failed_to_mount_at_boot_is_retried_once():
    with Board("split", RamDisk(2048), late_card=True) as b:   # a slow card
        assert "sdcard" not in os.listdir("/")
        d = boot(b)
        assert d["card_ok"] and d["card"] == "/sdcard" and os.getcwd() == "/sdcard"


def test_skipsd_is_respected():
    with Board("split", RamDisk(2048), late_card=True) as b:
        put("/flash/SKIPSD", "")
        d = boot(b)
        assert d["reason"].startswith(sdcheck.SKIPPED)
        assert "sdcard" not in os.listdir("/")


def test_healthy_card_without_the_app_keeps_data_on_card_code_on_flash():
    with Board("split", RamDisk(2048), app_on=("flash",)) as b:
        d = boot(b)
        assert d["card_ok"] and d["card"] == "/sdcard"
        assert d["app"] == "/flash" and os.getcwd() == "/flash"
        assert d["reason"].startswith(sdcheck.NO_APP)


def test_main_finds_the_same_decision_without_boot_in_its_vm():
    card = RamDisk(2048)
    card.fault = "lie"
    with Board("split", card) as b:
        first = boot(b)
        sdcheck.forget()                    # a new VM: nothing in memory
        card.fault = None                   # the check alone would now pass...
        d = sdcheck.decide(b.card, b.flash, delay_ms=1)
        assert not d["card_ok"]             # ...but boot.py's recorded decision stands
        assert d["reason"] == first["reason"] and os.getcwd() == "/flash"


def test_decide_in_the_same_vm_does_not_check_again():
    card = RamDisk(2048)
    with Board("split", card) as b:
        first = boot(b)
        writes = card.writes
        assert sdcheck.decide(b.card, b.flash) is first
        assert card.writes == writes


def test_decide_checks_when_nothing_was_recorded_or_the_card_changed():
    with Board("split", RamDisk(2048)) as b:
        d = sdcheck.decide(b.card, b.flash, delay_ms=1)      # boot.py never ran
        assert d["card_ok"]
        assert storage.exists("/flash/" + sdcheck.STATE_FILE)
    flash = b.flash
    other = RamDisk(4096)
    other.fault = "lie"
    with Board("split", other, flash=flash) as b:
        d = sdcheck.decide(b.card, b.flash, delay_ms=1)      # another card since then
        assert not d["card_ok"] and d["reason"].startswith(sdcheck.BAD_DATA)


def test_state_file_is_written_only_when_the_decision_changes():
    flash = RamDisk(512)
    with Board("split", RamDisk(2048), flash=flash) as b:
        boot(b)
        writes = flash.writes
        sdcheck.forget()
        boot(b)
        assert flash.writes == writes      # same decision: the flash is not written again


def test_boot_never_raises():
    class Broken(RamDisk):
        def present(self):
            raise TypeError("driver bug")

    with Board("split", None) as b:
        d = sdcheck.boot(Broken(64, fat=False), b.flash, delay_ms=1)
        # a present() that raises reads as "no card": the app still gets a decision
        assert d is not None and not d["card_ok"] and d["app"] == "/flash"

    def out_of_memory(*args):
        raise MemoryError()

    real = sdcheck.probe
    sdcheck.probe = out_of_memory
    try:
        with Board("split", RamDisk(2048)) as b:
            d = sdcheck.boot(b.card, b.flash, delay_ms=1)
            # whatever broke, main.py gets a decision, and it trusts only the flash
            assert not d["card_ok"] and d["reason"].startswith("check_failed")
            assert d["app"] == "/flash" and os.getcwd() == "/flash"
            assert "sdcard" not in os.listdir("/")
            assert sdcheck.decide() is d
    finally:
        sdcheck.probe = real


REPO = __file__.rsplit("/tests/", 1)[0]


with open(REPO + "/boot.py") as f:
    BOOT_PY = f.read()        # read now: inside a Board the host's "/" is not mounted


def run_boot_py():
    code = BOOT_PY
    g = {"__name__": "__main__"}
    exec(code, g)          # as the firmware runs it; an exception here fails the test
    return g


def test_boot_py_applies_the_check_and_leaves_no_globals():
    card = RamDisk(2048)
    card.fault = "write"
    with Board("split", card):
        g = run_boot_py()
        assert sorted(k for k in g if not k.startswith("__")) == []
        assert os.getcwd() == "/flash"
        assert not sdcheck.decide()["card_ok"]


def test_boot_py_never_raises_even_without_its_modules():
    with Board("split", RamDisk(2048)):
        saved = sys.modules.pop("sdcheck")
        try:
            run_boot_py()      # sdcheck is on neither drive and there is no mimxrt here
        finally:
            sys.modules["sdcheck"] = saved
