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
PYTEST := $(BIN)/python -m pytest
# Tests run with no network (tools/offline.sh), as a classroom laptop might.
OFFLINE := tools/offline.sh

.PHONY: install lab test unit notebooks browser slides html visualize bench clean check-notebooks

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e ".[dev,browser]"
	@touch $(STAMP)

lab: install
	$(BIN)/jupyter lab --ServerApp.ip=127.0.0.1 --ServerApp.root_dir=notebooks

test: unit notebooks

unit: install
	$(OFFLINE) $(PYTEST) tests -q --ignore=tests/browser --ignore=tests/test_notebooks.py

notebooks: install
	$(OFFLINE) $(PYTEST) tests/test_notebooks.py -q

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf build .pytest_cache .hypothesis
