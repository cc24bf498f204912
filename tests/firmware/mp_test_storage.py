# Storage: atomic writes survive a pulled card at every point, retention removes the oldest
# stills first, and filesystem errors become states (with a hand-over to flash).
import os
import vfs
from fakes import RamDisk, put, get, fill, ListLog, config
import storage

C = "/stcard"
F = "/stflash"


def mount(dev, where):
    try:
        vfs.umount(where)
    except OSError:
        pass
    vfs.mount(vfs.VfsFat(dev), where)


def umount(*where):
    for w in where:
        try:
            vfs.umount(w)
        except OSError:
            pass


def drives(card=None, flash=None):
    card = card or RamDisk(1024)
    flash = flash or RamDisk(256)
    mount(card, C)
    mount(flash, F)
    return card, flash


def make(cfg=None, card_ok=True, log=None):
    d = {"card_ok": card_ok, "card": C if card_ok else None, "flash": F,
         "reason": "" if card_ok else "write_error: EIO"}
    return storage.Storage(d, cfg or config(), log)


OLD = "old complete content\n" * 40
NEW = "new complete content!\n" * 60


def test_write_atomic_replaces_and_leaves_no_temporary_files():
    drives()
    storage.write_atomic(C + "/settings.json", OLD)
    storage.write_atomic(C + "/settings.json", NEW)
    assert get(C + "/settings.json") == NEW
    assert sorted(os.listdir(C)) == ["settings.json"]
    umount(C, F)


def test_card_pulled_at_any_point_of_a_write_leaves_old_or_new_never_partial():
    # pull the card after 0, 1, 2, ... block writes until a write completes untouched
    n = 0
    while True:
        card = RamDisk(1024)
        mount(card, C)
        storage.write_atomic(C + "/state.txt", OLD)
        card.remove_after = n
        try:
            storage.write_atomic(C + "/state.txt", NEW)
            finished = True
        except OSError:
            finished = False
        umount(C)
        card.remove_after = None
        card.fault = None                 # put the card back in (a new mount, cold caches)
        mount(card, C)
        got = storage.read_file(C + "/state.txt")
        assert got in (OLD, NEW), "after %d block writes: %r" % (n, got and got[:40])
        if finished:
            assert got == NEW
            break
        n += 1
        assert n < 200
    assert n >= 3          # the write really was cut at several points
    umount(C)


def test_read_file_recovers_the_backup_of_a_cut_write():
    drives()
    put(C + "/x.json.bak", OLD)          # state after "rename old to .bak", before the new one
    assert storage.read_file(C + "/x.json") == OLD
    assert storage.exists(C + "/x.json") and not storage.exists(C + "/x.json.bak")
    assert storage.read_file(C + "/missing.json") is None
    umount(C, F)


def test_prune_removes_oldest_first_to_the_file_limit():
    drives()
    os.mkdir(C + "/stills")
    for i in range(12):
        put(C + "/stills/2025010%d-%02d.jpg" % (i // 10, i % 10), "x")
    assert storage.prune(C + "/stills", max_files=5) == 7
    assert sorted(os.listdir(C + "/stills")) == ["20250100-07.jpg", "20250100-08.jpg",
                                                 "20250100-09.jpg", "20250101-00.jpg",
                                                 "20250101-01.jpg"]
    umount(C, F)


def test_prune_goes_through_day_folders_oldest_first():
    drives()
    for day in ("2026-11-21", "2026-11-22", "2026-11-23"):
        storage.makedirs(C + "/stills/" + day)
        for h in range(3):
            put(C + "/stills/%s/%s-%02d0000.jpg" % (day, day.replace("-", ""), h), "x")
    assert storage.prune(C + "/stills", max_files=4) == 5
    assert sorted(os.listdir(C + "/stills")) == ["2026-11-22", "2026-11-23"]   # emptied: gone
    assert sorted(os.listdir(C + "/stills/2026-11-22")) == ["20261122-020000.jpg"]
    assert storage.count_files(C + "/stills") == 4
    umount(C, F)


def test_prune_keeps_minimum_free_space():
    drives(RamDisk(1024))
    os.mkdir(C + "/stills")
    i = 0
    while storage.free_bytes(C) > 40 * 1024:
        put(C + "/stills/%04d.jpg" % i, "y" * 10000)
        i += 1
    removed = storage.prune(C + "/stills", min_free=100 * 1024)
    assert storage.free_bytes(C) >= 100 * 1024
    left = sorted(os.listdir(C + "/stills"))
    assert left[0] == "%04d.jpg" % removed and left[-1] == "%04d.jpg" % (i - 1)
    umount(C, F)


def test_storage_uses_card_limits_on_card_and_tight_limits_on_flash():
    drives()
    s = make()
    assert s.on_card and s.root == C and s.state == storage.OK
    assert s.log_bytes == 256 * 1024 and s.max_stills == 1000
    f = make(card_ok=False)
    assert not f.on_card and f.root == F
    assert f.log_bytes * f.log_files == 64 * 1024 and f.max_stills == 10
    off = make(config(storage={"fallback": "off"}), card_ok=False)
    assert off.root is None and off.state == storage.OFF
    assert off.path("x") is None and off.log_path() is None and not off.write("x", "y")
    umount(C, F)


def test_card_failing_while_running_hands_over_to_flash():
    card, flash = drives()
    log = ListLog()
    s = make(log=log)
    seen = []
    s.on_change(lambda st: seen.append(st.root))
    assert s.write("notes/a.txt", "1")
    card.fault = "write"
    assert not s.write("notes/b.txt", "2")
    assert s.root == F and not s.on_card and seen == [F]
    assert "SD card not usable" in log.text()
    assert s.write("notes/b.txt", "2") and get(F + "/notes/b.txt") == "2"
    umount(C, F)


def test_card_removed_is_noticed_by_poll():
    card, flash = drives()
    s = make()
    s.poll(card)
    assert s.on_card
    card.inserted = False
    s.poll(card)
    assert s.root == F and "removed" in s.reason
    umount(C, F)


def test_make_room_keeps_max_stills_including_the_new_one():
    drives()
    s = make(config(stills={"max_files": 3, "min_free_mb": 1}))
    s.min_free = 4096
    for i in range(6):
        assert s.make_room(100)
        assert s.write("stills/2026-01-01/%03d.jpg" % i, b"jpeg")
        assert storage.count_files(C + "/stills") <= 3
    assert sorted(os.listdir(C + "/stills/2026-01-01")) == ["003.jpg", "004.jpg", "005.jpg"]
    umount(C, F)


def test_full_card_is_a_state_and_retention_recovers_it():
    card, flash = drives(RamDisk(1024))
    s = make(config(stills={"min_free_mb": 1}))
    os.mkdir(C + "/stills")
    for i in range(20):
        put(C + "/stills/%03d.jpg" % i, "z" * 8000)
    fill(C, leave=2048)
    assert not s.write("big.bin", bytes(16 * 1024))
    assert s.state == storage.FULL and s.on_card         # full is not broken: stay on card
    os.remove(C + "/FILLER.BIN")
    s.min_free = 64 * 1024
    assert s.make_room() and s.state == storage.OK
    umount(C, F)


def test_flash_failing_too_ends_in_failed_state_not_an_exception():
    card, flash = drives()
    s = make(card_ok=False)
    flash.fault = "write"
    assert not s.write("a.txt", "x")
    assert s.state == storage.FAILED
    assert not s.write("a.txt", "x")           # and stays quiet afterwards
    umount(C, F)
