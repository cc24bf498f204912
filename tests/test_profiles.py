"""The committed firmware profiles (tools/sim/profiles/*.json) hold the version facts the app
and the emulator depend on. These guard the data against a bad re-extraction: each assertion
is a fact read from the firmware sources (docs/firmware-facts.md says where)."""
import pytest

from tools.sim import profiles

ALL = profiles.names()


def ver(version):
    return tuple(int(x) for x in version.split("."))


def mod(version, name):
    return profiles.load(version)["modules"][name]


def image_method(version, name):
    return mod(version, "image")["classes"]["Image"]["methods"][name]


def fact(version, name):
    return profiles.load(version)["facts"][name]["value"]


def test_the_agreed_profiles_exist():
    assert {"4.5.2", "4.5.9", "4.6.20", "4.7.0", "4.8.1", "5.0.0"} <= set(ALL)


@pytest.mark.parametrize("version", ALL)
def test_profile_loads_and_names_its_sources(version):
    p = profiles.load(version)
    assert p["tag"] == "v" + version
    assert ".".join(map(str, p["firmware"])) == version
    assert len(p["micropython_commit"]) == 40
    assert p["layout"] in ("root", "split")
    for name, m in p["modules"].items():
        if m is not None:
            assert m.get("source"), name
    for name, f in p["facts"].items():
        assert set(f) == {"value", "source", "note"}, name
        assert "@" in f["source"] or f["value"] is None, name


@pytest.mark.parametrize("short, full", [("4.5", "4.5.9"), ("4.6", "4.6.20"), ("4.7", "4.7.0"),
                                         ("4.8", "4.8.1"), ("5.0", "5.0.0"), ("4.7.0", "4.7.0"),
                                         ("v5.0.0", "5.0.0")])
def test_short_and_full_names_resolve(short, full):
    assert profiles.resolve(short) == full
    assert profiles.load(short) == profiles.load(full)


def test_a_changed_profile_changes_nobody_elses():
    p = profiles.load("4.5.2")
    p["facts"]["gc_heap_regions"]["value"] = [["DTCM", 1024]]
    assert profiles.load("4.5.2")["facts"]["gc_heap_regions"]["value"] == [["DTCM", 280 * 1024]]


@pytest.mark.parametrize("bad", ["4.9", "3.0", "", "latest"])
def test_unknown_firmware_is_refused(bad):
    with pytest.raises(ValueError):
        profiles.resolve(bad)


def test_csi_module_per_version():
    # 4.5: no csi at all; 4.6/4.7: the legacy sensor module under a second name (no CSI class);
    # 4.8+: the CSI class
    assert mod("4.5.2", "csi") is None and mod("4.5.9", "csi") is None
    assert mod("4.6.20", "csi") == {"alias_of": "sensor", "source": mod("4.6.20", "csi")["source"]}
    assert mod("4.7.0", "csi")["alias_of"] == "sensor"
    for v in ("4.8.1", "5.0.0"):
        assert "CSI" in mod(v, "csi")["names"]


def test_csi_stream_keyword_only_from_5_0():
    assert "stream" not in mod("4.8.1", "csi")["classes"]["CSI"]["make_new_kwargs"]
    assert "fb_size" in mod("4.8.1", "csi")["classes"]["CSI"]["make_new_kwargs"]
    assert "stream" in mod("5.0.0", "csi")["classes"]["CSI"]["make_new_kwargs"]
    assert "fb_size" not in mod("5.0.0", "csi")["classes"]["CSI"]["make_new_kwargs"]


def test_csi_snapshot_update_keyword_gone_in_5_0():
    snap = lambda v: mod(v, "csi")["classes"]["CSI"]["methods"]["snapshot"]  # noqa: E731
    assert "update" in snap("4.8.1")["kwargs"]
    assert "update" not in snap("5.0.0")["kwargs"]
    assert set(snap("5.0.0")["kw_only"]) >= {"time", "blocking"}


def test_legacy_sensor_snapshot_ignores_keywords():
    # sensor.snapshot reads no keyword: snapshot(time=...) does nothing there
    for v in ("4.5.2", "4.7.0", "5.0.0"):
        assert mod(v, "sensor")["functions"]["snapshot"]["kwargs"] == []
        assert mod(v, "sensor")["functions"]["snapshot"]["ignores_unknown_kwargs"]


def test_jpeg_subsampling_constants_from_4_5_4():
    assert "JPEG_SUBSAMPLING_422" not in mod("4.5.2", "image")["names"]
    for v in ALL:
        if ver(v) >= (4, 5, 4):
            c = mod(v, "image")["constants"]
            assert c["JPEG_SUBSAMPLING_422"] != c["JPEG_SUBSAMPLING_420"], v


def test_to_jpeg_converts_in_place_by_default():
    for v in ("4.7.0", "5.0.0"):
        m = image_method(v, "to_jpeg")
        assert {"quality", "subsampling", "copy"} <= set(m["kwargs"])
        assert m["defaults"]["copy"] is False
        assert image_method(v, "compress") == m


def test_draw_string_position_form():
    for v in ("4.5.2", "4.7.0", "4.8.1"):
        assert image_method(v, "draw_string")["positional"] == "x, y, text"
    assert image_method("5.0.0", "draw_string")["positional"] == "(x, y), text"
    assert "scale" in image_method("5.0.0", "draw_string")["kwargs"]


def test_save_quality_keyword_only_in_5_0():
    assert image_method("5.0.0", "save")["kw_only"] == ["roi", "quality"]
    assert image_method("4.7.0", "save")["kw_only"] == []


def test_omv_version_numbers_are_ints_and_disable_fb_until_4_7():
    for v in ALL:
        omv = mod(v, "omv")
        assert omv["ints"] == ["version_major", "version_minor", "version_patch"]
        assert [omv["constants"][k] for k in omv["ints"]] == profiles.load(v)["firmware"]
        assert ("disable_fb" in omv["names"]) == (ver(v) < (4, 8)), v


def test_wlan_pm_constants_absent_on_micropython_1_20():
    assert "PM_NONE" not in mod("4.5.2", "network")["classes"]["WLAN"]["names"]
    assert mod("5.0.0", "network")["classes"]["WLAN"]["constants"]["PM_NONE"] == 16


def test_hashlib_md5_and_vfs_presence():
    assert "md5" not in mod("4.5.2", "hashlib")["names"]
    assert "md5" in mod("4.5.9", "hashlib")["names"]
    assert mod("4.5.2", "vfs") is None and mod("4.5.4", "vfs") is None
    assert "mount" in mod("4.5.9", "vfs")["names"]


def test_machine_surface():
    for v in ALL:
        m = mod(v, "machine")
        assert m["constants"] == {"PWRON_RESET": 1, "WDT_RESET": 3, "SOFT_RESET": 5}, v
        assert m["classes"]["WDT"]["make_new_kwargs"] == ["id", "timeout"]
        assert m["classes"]["LED"]["make_new_args"] == ["pin_name"]
        assert "present" in m["classes"]["SDCard"]["names"]


def test_frozen_modules_the_app_must_not_shadow():
    for v in ALL:
        frozen = profiles.load(v)["frozen"]
        assert {"ntptime", "logging", "time"} <= set(frozen["require"])
        assert "rtsp" in frozen["freeze"]
        assert "strftime" in mod(v, "time")["names"]


def test_behaviour_facts():
    for v in ALL:
        assert fact(v, "reset_cause_after_deepsleep") == 4
        assert fact(v, "reset_cause_sticky") is True
        assert fact(v, "sdcard_readblocks_returns_eio") is True
        assert fact(v, "ticks_period") == 2 ** 30
        assert fact(v, "small_int_bits") == 31
        assert fact(v, "float") == "single"
        assert fact(v, "native_emitter") == "thumb"
        assert fact(v, "main_skipped_when_boot_py_raises") is True
        assert fact(v, "errno_values") == "newlib"


def test_time_facts_per_version():
    # gmtime takes a 32-bit mp_int_t up to MicroPython 1.25, an unsigned one from 1.26
    for v in ("4.5.2", "4.5.9", "4.6.20", "4.7.0"):
        assert fact(v, "gmtime_overflow_from") == 2 ** 31
    for v in ("4.8.1", "5.0.0"):
        assert fact(v, "gmtime_overflow_from") == 2 ** 32
    assert fact("4.5.2", "ntptime_era_pivot_year") is None
    for v in ("4.5.9", "4.7.0", "5.0.0"):
        assert fact(v, "ntptime_era_pivot_year") == 2024


def test_gc_heap():
    assert fact("4.5.2", "gc_heap_regions") == [["DTCM", 280 * 1024]]
    assert fact("5.0.0", "gc_heap_regions") == [["OCRAM", 64 * 1024], ["DTCM", 204 * 1024],
                                                ["SDRAM", 8 * 1024 * 1024]]
    for v in ("4.5.9", "4.7.0", "4.8.1"):
        assert fact(v, "gc_heap_regions")[-1] == ["SDRAM", 8 * 1024 * 1024]


def test_layout():
    assert [profiles.load(v)["layout"] for v in ("4.5.2", "4.5.9", "4.6.20", "5.0.0")] == \
        ["root", "root", "split", "split"]


def test_subsampling_keyword_silently_ignored_before_4_5_4():
    # to_jpeg(subsampling=...) is ignored on 4.5.2 (keywords looked up by hand), so AUTO applies:
    # quality >= 60 gives 4:4:4, which RTP/JPEG cannot carry
    old = image_method("4.5.2", "to_jpeg")
    assert "subsampling" not in old["kwargs"] and old["ignores_unknown_kwargs"]
    assert fact("4.5.2", "jpeg_auto_subsampling")["444_from_quality"] == 60
    assert "subsampling" in image_method("4.5.4", "to_jpeg")["kwargs"]


def test_framebuffer_pool_outside_the_gc_heap():
    assert fact("4.5.2", "framebuffer_pool") == 10 * 1024 * 1024
    assert fact("4.7.0", "framebuffer_pool") == 13 * 1024 * 1024
    assert fact("5.0.0", "framebuffer_pool") == 23 * 1024 * 1024
