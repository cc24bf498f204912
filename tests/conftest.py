"""Test collection shared by the whole suite.

Firmware-side tests live in tests/firmware/mp_test_*.py. They run inside the real
MicroPython interpreter (never CPython): each module runs once in its own MicroPython
process and every test_* function in it becomes its own pytest item. Each module also runs
on the Cortex-M7 tool (tests/m7kit.py: real ARM code, 32-bit ints) as items test_*[m7]
(marker `m7`), skipped with the reason where it cannot.
"""
import re
import subprocess

import pytest

from tests import m7kit
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
    """A firmware test module; runs once per interpreter (the unix port, the Cortex-M7 tool),
    results cached for its items."""

    def collect(self):
        names = sorted(set(re.findall(r"^def (test_\w+)\(", self.path.read_text(), re.M)))
        self.results, self.output = {}, {}
        self.m7_skip = m7kit.skips(self.path.stem, names)
        for name in names:
            yield MicroPythonTest.from_parent(self, name=name, test=name, m7=False)
        missing = m7kit.missing()
        for name in names:
            item = MicroPythonTest.from_parent(self, name=name + "[m7]", test=name, m7=True)
            item.add_marker(pytest.mark.m7)
            why = missing or self.m7_skip.get(name)
            if why:
                item.add_marker(pytest.mark.skip(reason="Cortex-M7: " + why))
            yield item

    def run_once(self, m7):
        if m7 not in self.results:
            if m7:
                out = m7kit.run(self.path.stem, skip=self.m7_skip)
            else:
                try:
                    proc = mpy.run(FIRMWARE_TESTS / "_runner.py", MP_PATH, [self.path.stem],
                                   timeout=300)
                    out = proc.stdout + proc.stderr
                except subprocess.TimeoutExpired as e:
                    out = (e.stdout or b"").decode(errors="replace") + "\n@@TIMEOUT"
            self.results[m7] = parse_results(out)
            self.output[m7] = out
        return self.results[m7]


def parse_results(out):
    """{test: (passed, traceback)} from _runner.py's @@ lines."""
    results = {}
    current = None
    for line in out.splitlines():
        if line.startswith("@@PASS "):
            results[line[7:]] = (True, "")
        elif line.startswith("@@FAIL "):
            current = line[7:]
            results[current] = (False, "")
        elif line.startswith("@@| ") and current:
            ok, text = results[current]
            results[current] = (ok, text + line[4:] + "\n")
    return results


class MicroPythonTest(pytest.Item):
    def __init__(self, *, test, m7, **kw):
        super().__init__(**kw)
        self.test = test        # the test_* function
        self.m7 = m7            # run on the Cortex-M7 tool, not the unix port
        self.add_marker(pytest.mark.quick)
        # one worker runs the whole module: its MicroPython process (or QEMU boot) runs once
        # for all items
        self.add_marker(pytest.mark.xdist_group(self.parent.path.stem + ("-m7" if m7 else "")))

    def runtest(self):
        results = self.parent.run_once(self.m7)
        if self.test not in results:
            raise MicroPythonFailure("test did not run; MicroPython said:\n"
                                     + self.parent.output[self.m7][-3000:])
        ok, text = results[self.test]
        if not ok:
            raise MicroPythonFailure(text)

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, MicroPythonFailure):
            where = "MicroPython on the Cortex-M7 tool: " if self.m7 else "MicroPython: "
            return where + str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        where = "micropython (cortex-m7): " if self.m7 else "micropython: "
        return self.path, 0, where + self.test


class MicroPythonFailure(Exception):
    pass


def pytest_collection_modifyitems(items):
    """Long tests first: with parallel workers the run then ends when the long ones do, not
    a minute after everything else."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


def pytest_configure(config):
    config.addinivalue_line("markers", "m7: a firmware test run on the Cortex-M7 tool (QEMU)")


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    """Parallel runs (-n, --dist load or loadgroup): a firmware module's items for one
    interpreter go to one worker, so the module runs once per interpreter (one MicroPython
    process, one QEMU boot), not once per worker. Done here because xdist 3.8's loadgroup
    does not group under pytest 9 (it renames items through `_nodeid`, which pytest 9 no
    longer reads); everything else is scheduled one item at a time, in collection order."""
    if config.getvalue("dist") not in ("load", "loadgroup"):
        return None
    from xdist.scheduler import LoadScopeScheduling

    class FirmwareModules(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            if "/firmware/mp_test_" not in nodeid:
                # an xdist_group suffix (nodeid@group), should a fixed xdist add one
                return nodeid.split("@")[-1] if nodeid.rfind("@") > nodeid.rfind("]") else nodeid
            return nodeid.split("::")[0] + ("[m7]" if "[m7]" in nodeid else "")

    config.option.loadscopereorder = False      # keep the order: long tests first
    return FirmwareModules(config, log)


def pytest_terminal_summary(terminalreporter):
    """Say how many of the tests ran inside MicroPython (the firmware side), and where."""
    counts = {}
    for outcome in ("passed", "failed", "error", "skipped"):
        for rep in terminalreporter.stats.get(outcome, []):
            if "/firmware/mp_test_" in rep.nodeid and (rep.when == "call" or outcome == "skipped"):
                key = (rep.nodeid.endswith("[m7]"), outcome)
                counts[key] = counts.get(key, 0) + 1
    for m7, where in ((False, "the MicroPython interpreter (unix port)"),
                      (True, "MicroPython on the Cortex-M7 tool (QEMU)")):
        n = [counts.get((m7, o), 0) for o in ("passed", "failed", "error", "skipped")]
        if any(n):
            terminalreporter.write_line("firmware tests run inside %s: %d passed, %d failed%s"
                                        % (where, n[0], n[1] + n[2],
                                           ", %d skipped" % n[3] if n[3] else ""))
