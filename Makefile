# Two entry points for a fresh machine (see README):
#   make run   - set up .venv and run the main job on the built-in data
#   make test  - set up .venv and run the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test wheel-test venv bench lint clean model model-lif

$(STAMP): pyproject.toml src/flexspim/__init__.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

venv: $(STAMP)

# (make run rebuilds out/demo each time: the demo keeps an earlier run unless --overwrite)
run: $(STAMP)
	$(VENV)/bin/flexspim demo --overwrite

test: $(STAMP)
	$(PY) -m pytest

# The wheel as a user gets it (tests/test_packaging.py; 5-8 minutes, needs the package index):
# build sdist + wheel once, then for each supported Python (3.11, 3.12, 3.13: pyproject's
# classifiers) install the wheel into a fresh venv outside the repository and run
# `flexspim --version`, `flexspim demo --quick` and the README's Python API snippet from there.
# Interpreters: $FLEXSPIM_PYTHON_3_X, else pyenv's $PYENV_ROOT/versions/3.X.N, else python3.X on
# PATH; a missing one fails the target in one line (README, "Python versions").
wheel-test: $(STAMP)
	$(PY) -m pytest -m packaging -s tests/test_packaging.py

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

# benchmarks (docs/benchmarks.md): run them on an otherwise idle machine
bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[dev,bench]"
	$(PY) benchmarks/bench_macro.py --json benchmarks/results/macro.json
	$(PY) benchmarks/bench_sim.py --json benchmarks/results/sim.json --plot benchmarks/results/sim_density.png
	$(PY) benchmarks/bench_aedat.py --json benchmarks/results/aedat.json
	$(PY) benchmarks/bench_recordings.py --json benchmarks/results/recordings.json
	$(PY) benchmarks/bench_compile.py --json benchmarks/results/compile.json
	$(PY) benchmarks/bench_system.py --json benchmarks/results/system.json
	$(PY) benchmarks/bench_train.py --json benchmarks/results/train.json

# The shipped digits model and its record (docs/training.md): seeded, 2 torch threads.
MODEL_RUN := out/model/digits
MODEL_DIR := src/flexspim/assets
model: $(STAMP)
	rm -rf $(MODEL_RUN)
	$(VENV)/bin/flexspim train --preset digits --seed 0 --epochs 15 --time-bins 12 \
		--w-bits 8 --v-bits 16 --threads 2 --device cpu --out $(MODEL_RUN)
	$(VENV)/bin/flexspim export $(MODEL_RUN)/checkpoint.pt --name digits_net \
		--out $(MODEL_DIR)/digits_net.npz --record $(MODEL_DIR)/digits_net.json

# The shipped LIF digits model beside it: the same recipe with leaky neurons (shift 4: decay 15/16
# per timestep; docs/training.md).
LIF_RUN := out/model/digits_lif
model-lif: $(STAMP)
	rm -rf $(LIF_RUN)
	$(VENV)/bin/flexspim train --preset digits --seed 0 --epochs 15 --time-bins 12 \
		--w-bits 8 --v-bits 16 --neuron lif --leak-shift 4 --threads 2 --device cpu \
		--out $(LIF_RUN)
	$(VENV)/bin/flexspim export $(LIF_RUN)/checkpoint.pt --name digits_lif_net \
		--out $(MODEL_DIR)/digits_lif_net.npz --record $(MODEL_DIR)/digits_lif_net.json

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis
