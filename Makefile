# Two commands for users: `make run` starts the emulated camera, `make test` runs every test.
# Both set up what they need first (a .venv with the Python packages, and the Debian packages
# for the real RTSP clients, FAT tools and NTP server; see tools/setup_system.sh).
PYTHON ?= python3
VENV   := .venv
STAMP  := $(VENV)/.installed
ARGS   ?=

.PHONY: setup run test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml tools/setup_system.sh
	bash tools/setup_system.sh
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: setup
	$(VENV)/bin/python -m tools.sim $(ARGS)

test: setup
	$(VENV)/bin/python -m pytest $(ARGS)

bench: setup
	$(VENV)/bin/python -m tools.bench $(ARGS)

clean:
	rm -rf $(VENV) build run .pytest_cache
