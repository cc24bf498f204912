"""Test collection shared by the whole suite.

Firmware-side tests live in tests/firmware/mp_test_*.py. They run inside the real
MicroPython interpreter (never CPython): each module runs once in its own MicroPython
process and every test_* function in it becomes its own pytest item.
"""
import re
import subprocess

import pytest

from tools import mpy

FIRMWARE_TESTS = mpy.ROOT / "tests" / "firmware"
MP_PATH = [FIRMWARE_TESTS, mpy.LIB, mpy.DEVICE]


def pytest_collect_file(parent, file_path):
    if file_path.parent == FIRMWARE_TESTS and re.fullmatch(r"mp_test_\w+\.py", file_path.name):
        return MicroPythonModule.from_parent(parent, path=file_path)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path, parent):
    # A firmware test named on the command line would also be imported by CPython: never.
    if module_path.parent == FIRMWARE_TESTS:
        return NotForCPython.from_parent(parent, path=module_path)


class NotForCPython(pytest.File):
    def collect(self):
        return []


class MicroPythonModule(pytest.File):
    """A firmware test module; runs once in MicroPython, results cached for its items."""

    def collect(self):
        names = re.findall(r"^def (test_\w+)\(", self.path.read_text(), re.M)
        self.results = None
        for name in sorted(set(names)):
            yield MicroPythonTest.from_parent(self, name=name)

    def run_once(self):
        if self.results is None:
            self.results = {}
            try:
                proc = mpy.run(FIRMWARE_TESTS / "_runner.py", MP_PATH, [self.path.stem],
                               timeout=300)
                out = proc.stdout + proc.stderr
            except subprocess.TimeoutExpired as e:
                out = (e.stdout or b"").decode(errors="replace") + "\n@@TIMEOUT"
            current = None
            for line in out.splitlines():
                if line.startswith("@@PASS "):
                    self.results[line[7:]] = (True, "")
                elif line.startswith("@@FAIL "):
                    current = line[7:]
                    self.results[current] = (False, "")
                elif line.startswith("@@| ") and current:
                    ok, text = self.results[current]
                    self.results[current] = (ok, text + line[4:] + "\n")
            self.output = out
        return self.results


class MicroPythonTest(pytest.Item):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.add_marker(pytest.mark.quick)
        # one worker runs the whole module: its MicroPython process runs once for all items
        self.add_marker(pytest.mark.xdist_group(self.parent.path.stem))

    def runtest(self):
        results = self.parent.run_once()
        if self.name not in results:
            raise MicroPythonFailure("test did not run; MicroPython said:\n" + self.parent.output[-3000:])
        ok, text = results[self.name]
        if not ok:
            raise MicroPythonFailure(text)

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, MicroPythonFailure):
            return "MicroPython: " + str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, 0, "micropython: " + self.name


class MicroPythonFailure(Exception):
    pass


def pytest_collection_modifyitems(items):
    """Long tests first: with parallel workers the run then ends when the long ones do, not
    a minute after everything else."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


def pytest_terminal_summary(terminalreporter):
    """Say how many of the tests ran inside MicroPython (the firmware side)."""
    counts = {}
    for outcome in ("passed", "failed", "error"):
        for rep in terminalreporter.stats.get(outcome, []):
            if getattr(rep, "when", "call") == "call" and "/firmware/mp_test_" in rep.nodeid:
                counts[outcome] = counts.get(outcome, 0) + 1
    if counts:
        terminalreporter.write_line("firmware tests run inside the MicroPython interpreter: "
                                    "%d passed, %d failed" % (counts.get("passed", 0),
                                                              counts.get("failed", 0)))
