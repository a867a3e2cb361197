# Two entry points for a fresh machine (see README):
#   make run   - set up .venv and run the main job on the built-in data
#   make test  - set up .venv and run the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test venv bench lint clean

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/flexspim demo

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

bench: $(STAMP)
	$(PY) benchmarks/bench_macro.py --json out/bench/macro.json
	$(PY) benchmarks/bench_sim.py --json out/bench/sim.json
	$(PY) benchmarks/bench_aedat.py --json out/bench/aedat.json
	$(PY) benchmarks/bench_compile.py --json out/bench/compile.json

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
