# Two commands for users: `make run` starts the emulated camera, `make test` runs every test.
# Both set up what they need first (a .venv with the Python packages, and the Debian packages
# for the real RTSP clients, FAT tools and NTP server; see tools/setup_system.sh).
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed
ARGS   ?=
# Most tests wait on emulated boots, timers and sockets, not the CPU: three workers per core
# (on 2 cores: 3 min 23 s with 6 workers, 4 min 45 s with 4).
JOBS   ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 2) * 3 )))

.PHONY: setup run test test-fast test-m7 bench bench-send bench-m7 clean

setup: $(STAMP)

$(STAMP): pyproject.toml tools/setup_system.sh
	bash tools/setup_system.sh
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet '.[test]'
	rm -rf *.egg-info build/bdist.*        # pip's build leftovers: setup leaves no untracked files
	rmdir build 2>/dev/null || true
	touch $(STAMP)

# the camera's network stack is modelled (--net-model on): the stream goes as fast as it would
run: setup
	$(VENV)/bin/python -m tools.sim --net-model on $(ARGS)

# every test, in parallel; the 15 slowest are listed at the end
test: setup
	$(VENV)/bin/python -m pytest -n $(JOBS) --dist loadgroup --durations=15 $(ARGS)

# the inner loop (under a minute): the MicroPython-side unit tests and the quick host tests
test-fast: setup
	$(VENV)/bin/python -m pytest -n $(JOBS) --dist loadgroup -m quick $(ARGS)

# only the firmware tests' runs on the Cortex-M7 tool (QEMU), which `make test` includes
test-m7: setup
	$(VENV)/bin/python -m pytest -n $(JOBS) --dist loadgroup -m m7 tests/firmware $(ARGS)

# the camera app on the emulated 600 kB/s link: fps, latency, loop passes per case (tools/bench.py)
bench: setup
	$(VENV)/bin/python -m tools.bench $(ARGS)

# CPU time and heap per frame of rtspd's send path on the PC (tools/bench_send.py)
bench-send: setup
	$(VENV)/bin/python -m tools.bench_send $(ARGS)

# instructions per frame of the send path on the Cortex-M7 tool (QEMU): tools/bench_m7
bench-m7: setup
	$(VENV)/bin/python -m tools.bench_m7 $(ARGS)

clean:
	rm -rf $(VENV) build run .pytest_cache
