# Two commands for a fresh machine: `make book` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export FASHION_MNIST_ROOT ?= $(CURDIR)/data

.PHONY: book test lint data venv notebooks clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

data: venv
	PYTHON=$(PY) scripts/get-data.sh

# jupyter-cache keys on cell source only, so a change under src/ clears the cache and
# Sphinx's saved state: the next build re-reads and re-executes every chapter. An
# unchanged rebuild executes nothing.
SRC_PY := $(shell find src -name '*.py' 2>/dev/null)
_build/.src-stamp: $(SRC_PY)
	rm -rf _build/.jupyter_cache _build/.doctrees
	mkdir -p _build && touch $@

book: venv data _build/.src-stamp
	$(BIN)/jupyter-book build . --path-output .

# The student notebooks committed for Colab, written from the chapters (a test fails if they drift).
notebooks: venv
	$(PY) -m ddpm_sampling.sphinx_notebooks

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: venv data lint
	$(BIN)/pytest

clean:
	rm -rf _build
