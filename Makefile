# Two entry points (see README): `make demo` runs the main job, `make test` runs the tests.
# Each creates the virtual environment on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo ui test unit lint bench constraints clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt -r requirements-dev.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/recipebench demo

# Airflow's UI with the results pages, against the simulated cluster (after `make demo`: its runs too)
ui: $(STAMP)
	$(BIN)/recipebench ui

# ruff (with its complexity limit and the heavy imports kept out of module level) and mypy over plugins/
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# the versions the image installs under: what the test suite ran with (dev tools left out)
constraints: $(STAMP)
	{ sed -n '1,3p' docker/constraints.txt; $(BIN)/pip freeze --exclude-editable | \
	  grep -v -i -E '^(recipebench|pytest|pytest-xdist|execnet|mypy|mypy-extensions|types-PyYAML|types-croniter|pathspec|librt|ruff|hypothesis|bqemulator|iniconfig|pluggy|sortedcontainers|selenium|trio|trio-websocket|wsproto|pysocks)([=@ ]|$$)'; } \
	  > docker/constraints.txt.new && mv docker/constraints.txt.new docker/constraints.txt

# every test: the unit tests and the end-to-end ones (simulated cluster, Airflow, emulator, browser)
test: $(STAMP) lint
	scripts/ensure-chromium.sh
	$(BIN)/python -m pytest -n 2 --dist loadfile

# the unit tests alone, in well under a minute
unit: $(STAMP)
	$(BIN)/python -m pytest -m "not e2e"

clean:
	rm -rf var .pytest_cache
