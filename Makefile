# Two entry points (see README): `make demo` runs the main job, `make test` runs the tests.
# Each creates the virtual environment on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench constraints clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt -r requirements-dev.txt
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/recipebench demo

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

# the versions the image installs under: what the test suite ran with (dev tools left out)
constraints: $(STAMP)
	{ sed -n '1,3p' docker/constraints.txt; $(BIN)/pip freeze --exclude-editable | \
	  grep -v -i -E '^(recipebench|pytest|pytest-xdist|execnet|ruff|hypothesis|bqemulator|iniconfig|pluggy|sortedcontainers|selenium|trio|trio-websocket|wsproto|pysocks)([=@ ]|$$)'; } \
	  > docker/constraints.txt.new && mv docker/constraints.txt.new docker/constraints.txt

test: $(STAMP) lint
	scripts/ensure-chromium.sh
	$(BIN)/python -m pytest -n 2 --dist loadfile

clean:
	rm -rf var .pytest_cache
