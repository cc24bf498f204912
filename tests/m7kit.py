"""Runs firmware test modules on the Cortex-M7 tool as well as on the unix port.

The tool (../shared/tools/cortex-m7 beside the repo, or $M7_TOOL) boots MicroPython's qemu port
on an emulated Cortex-M7 in QEMU: the camera's Thumb-2 native code generator and its 32-bit
limits (31-bit small ints), which the 64-bit unix port hides. Per module: one boot, the project
packed read-only into its ROMFS, tests/firmware/_runner.py run there with m7port.setup() first.
What the tool cannot run is listed below (CANNOT_RUN) and reported as skips with the reason.
"""
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tools import mpy

TOOL = Path(os.environ.get("M7_TOOL") or mpy.ROOT.parent / "shared" / "tools" / "cortex-m7")
NO_FAT = "needs a FAT RAM disk: the tool's firmware has no vfs.VfsFat (only the read-only ROMFS)"
NO_NET = "needs sockets: the tool's board has no network stack"

# What cannot run on the tool, and why: {module: {test: reason}}, "*" for every test of it.
CANNOT_RUN = {
    "mp_test_applog": {"*": NO_FAT},
    "mp_test_sdcheck": {"*": NO_FAT},
    "mp_test_storage": {"*": NO_FAT},
    "mp_test_rtspd_alloc": {"*": NO_NET},
    "mp_test_sim_socket": {"*": NO_NET},
    "mp_test_sim_lwip": {"*": NO_NET},
    "mp_test_clock_ntp": dict.fromkeys([
        "test_silent_server_on_real_sockets_each_poll_returns_at_once",
        "test_answering_server_on_real_sockets_sets_the_rtc"], NO_NET),
    "mp_test_config": dict.fromkeys([
        "test_configured_password_wins", "test_generated_password_is_saved_reused_and_never_logged",
        "test_missing_file", "test_missing_wifi", "test_not_json", "test_out_of_range_and_bad_choice",
        "test_secrets_never_appear_in_messages", "test_unknown_keys_are_named_with_the_known_ones",
        "test_valid_config_has_no_errors_and_keeps_values", "test_wrong_shapes_never_crash",
        "test_wrong_type_names_key_and_allowed_values"], NO_FAT),
    "mp_test_crash": dict.fromkeys([
        "test_backoff_doubles_up_to_the_limit", "test_count_is_on_flash_and_written_only_on_change",
        "test_crash_is_logged_without_breaking_when_the_log_is_a_list",
        "test_crash_writes_report_with_traceback_and_resets",
        "test_crashes_in_a_row_end_in_safe_mode_with_reports_kept", "test_ctrl_c_is_not_a_crash",
        "test_damaged_state_file_starts_over",
        "test_hang_after_a_deep_sleep_is_counted_though_the_cause_reads_4_forever",
        "test_our_own_reset_is_not_taken_for_a_hang", "test_power_cut_while_running_is_not_a_hang",
        "test_power_cycle_in_safe_mode_gives_one_more_try",
        "test_report_goes_to_flash_when_there_is_no_data_drive",
        "test_safe_mode_retry_after_a_week_survives_the_tick_wrap",
        "test_safe_mode_shows_its_pattern_feeds_the_watchdog_and_retries_later",
        "test_stable_running_and_clean_sleep_end_the_series",
        "test_watchdog_after_a_stop_from_the_ide_is_not_a_hang",
        "test_watchdog_reset_counts_as_a_hang"], NO_FAT),
    "mp_test_webd_server": {
        "test_no_allocation_per_file_chunk": "the tool's /tmp is m7port's RamFs, written in "
        "Python: its reads allocate (the camera's FAT and the unix port's files do not)"},
    "mp_test_selfcheck": {
        "test_heap_is_camera_sized": "the tool's GC heap is 3.2 MB, the camera's about 8 MB"},
}


def skips(module, names):
    """{test: reason} for the tests of module (names: all of them) that cannot run on the tool."""
    table = CANNOT_RUN.get(module, {})
    stale = set(table) - set(names) - {"*"}
    if stale:
        raise ValueError("tests/m7kit.py CANNOT_RUN names tests %s does not have: %s"
                         % (module, ", ".join(sorted(stale))))
    return dict.fromkeys(names, table["*"]) if "*" in table else dict(table)


# what the project on the target needs: the firmware tests, lib/, the emulator's device modules
# and the files the tests read (paths relative to the repo root)
STAGE = ("lib", "tests/firmware", "tools/sim/device", "boot.py", "main.py", "config.json")


def missing():
    """Why the tool cannot run here (a message for the skip), or None."""
    if not (TOOL / "m7run.py").is_file():
        return "the tool is not at %s (set M7_TOOL to its folder)" % TOOL
    if shutil.which("qemu-system-arm") is None:
        return "qemu-system-arm is not installed (tools/setup_system.sh installs it)"
    if importlib.util.find_spec("mpremote") is None:
        return "mpremote is not installed (the tool uses it; `make setup`)"
    return None


def _stage(repo):
    # links only: m7run.py copies what they point to into the ROMFS image
    for rel in STAGE:
        dst = repo / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.symlink_to(mpy.ROOT / rel)


def run(module, skip=(), timeout=300):
    """Run tests/firmware/<module>.py on the tool; returns the runner's output (str). A boot
    that lost the target before any test ran is tried once more: on a busy PC mpremote once
    could not enter QEMU's raw REPL (m7run: "lost the target"). A test that ran is never
    run twice."""
    out = _run_once(module, skip, timeout)
    if "m7run: lost the target" in out and "@@PASS " not in out and "@@FAIL " not in out:
        out = _run_once(module, skip, timeout)
    return out


def _run_once(module, skip, timeout):
    with tempfile.TemporaryDirectory(prefix="m7fw-") as tmp:
        repo = Path(tmp) / "repo"           # /rom/repo on the target
        _stage(repo)
        cmd = [sys.executable, str(TOOL / "m7run.py"), "--timeout", str(timeout),
               "--path", str(repo), str(mpy.ROOT / "tests" / "firmware" / "_runner.py"),
               module, "--m7", "/rom/repo", "--skip", ",".join(skip)]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 30)
        except subprocess.TimeoutExpired as e:
            out = e.stdout or ""
            return (out if isinstance(out, str) else out.decode(errors="replace")) + "\n@@TIMEOUT"
        return proc.stdout + proc.stderr
