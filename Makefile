# Transformer -> GPT-4, built and seen.
#   make lab        install (first time) and open JupyterLab on notebooks/
#   make test       install (first time) and run every test
# The CPU build of PyTorch is chosen by TORCH_SPEC / TORCH_INDEX, e.g.
#   make test TORCH_INDEX=https://download.pytorch.org/whl/cpu TORCH_SPEC=torch
#   make lab  TORCH_INDEX=https://download.pytorch.org/whl/cu124 TORCH_SPEC=torch

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
STAMP := $(VENV)/.installed
WEB_STAMP := tools/web/node_modules/.installed
PYTEST := $(BIN)/python -m pytest
# Tests run with no network (tools/offline.sh), as a classroom laptop might.
OFFLINE := tools/offline.sh

.PHONY: install lint lab test unit notebooks browser slides html pdf visualize bench verify clean strip

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[dev,browser]"
	@touch $(STAMP)

# Jupyter refuses root unless told; containers often run as root.
AS_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: install
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=notebooks $(AS_ROOT)

# The visualizer as a dashboard (voila), on 127.0.0.1 with a generated token. Each page
# load runs chapter 12 in a fresh kernel (under a minute on one thread), showing each cell's
# output as it comes: progressive rendering adds a widget once its model exists, where the
# default page could render a widget before its model and show "model not found".
VOILA_FLAGS := --VoilaConfiguration.progressive_rendering=True
visualize: install
	$(BIN)/voila notebooks/12_visualizer.ipynb --Voila.ip=127.0.0.1 $(VOILA_FLAGS) --token

# Offline reveal.js decks (build/slides) and handouts (build/html, build/pdf).
slides: install $(WEB_STAMP)
	$(BIN)/python tools/export.py slides

html: install $(WEB_STAMP)
	$(BIN)/python tools/export.py html

pdf: install $(WEB_STAMP)
	$(BIN)/python tools/export.py pdf

test: lint unit notebooks browser

# pyflakes, pycodestyle errors, import order and bugbear (configured in pyproject.toml)
lint: install
	$(BIN)/ruff check lesson_lib tests tools bench

unit: install
	OMP_NUM_THREADS=1 $(OFFLINE) $(PYTEST) tests -q --ignore=tests/browser --ignore=tests/test_notebooks.py

# One PyTorch thread per kernel: the chapters' models are small, and a second thread
# only waits for the first when anything else shares the CPU.
notebooks: install
	OMP_NUM_THREADS=1 $(OFFLINE) $(PYTEST) tests/test_notebooks.py -q

# reveal.js, MathJax, require.js, jQuery and the widget manager, from the npm registry.
$(WEB_STAMP): tools/web/package-lock.json
	cd tools/web && npm ci --no-audit --no-fund --ignore-scripts
	@touch $(WEB_STAMP)

# Decks, handouts, JupyterLab, and the voila dashboard loaded fresh five times in a row
# (each load runs chapter 12, about a minute; see the note in tests/browser/test_live.py).
browser: install $(WEB_STAMP)
	OMP_NUM_THREADS=1 $(OFFLINE) $(PYTEST) tests/browser -q

strip:
	$(BIN)/python tools/nbhygiene.py --fix

# Rebuild every shipped asset in full and compare its numbers with the shipped ones (about
# 75 minutes on 2 cores; not part of make test, which runs every recipe's smoke build).
verify: install
	$(BIN)/python -m lesson_lib.pretrained verify all

# Benchmarks print ratios against a baseline; they assert nothing.
bench: install
	for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean:
	rm -rf build .pytest_cache .hypothesis
