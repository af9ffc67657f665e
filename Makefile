# Two commands for a fresh machine: `make book` and `make test`.
SHELL := /bin/bash
# The interpreter that makes the venv: the first of python3.11, python3.12 and python3.13 on the
# PATH that runs and can make a venv (3.11 first: the version the pinned requirements were frozen
# with; 3.11.5 at least, which soupsieve 4 needs), or the one given with
# `make PYTHON=/path/to/python3.x ...`. Looked for only when the venv is (re)made.
PYTHONS := python3.11 python3.12 python3.13
PY_OK := import sys, venv, ensurepip; sys.exit(not (3, 11, 5) <= sys.version_info[:3] < (3, 14))
PYTHON ?= $(shell for p in $(PYTHONS); do $$p -c '$(PY_OK)' >/dev/null 2>&1 && { command -v $$p; break; }; done)
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export FASHION_MNIST_ROOT ?= $(CURDIR)/data

.PHONY: book test lint data venv notebooks train evaluate clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	@if [ -z "$(PYTHON)" ] || ! "$(PYTHON)" -c '$(PY_OK)' >/dev/null 2>&1; then \
	  echo "make: needs Python 3.11 (3.11.5 or later), 3.12 or 3.13 with venv and ensurepip to make $(VENV):" \
	    "$(if $(filter command line environment,$(origin PYTHON)),PYTHON=$(PYTHON) is not one,none of $(PYTHONS) on the PATH is one)." \
	    "Install one (on Debian and Ubuntu with its python3.x-venv package) or run make PYTHON=/path/to/python3.x $(MAKECMDGOALS)" >&2; \
	  exit 1; fi
	@echo "making $(VENV) with $$("$(PYTHON)" -c 'import sys; print(sys.executable, sys.version.split()[0])')"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

data: venv
	PYTHON=$(PY) scripts/get-data.sh

# The chapters are executed into jupyter-cache first, several side by side (book/_ext/execute_chapters.py);
# the build then reads them from the cache. jupyter-cache keys on cell source only, so a change
# under src/ (code or shipped weights) or in the chapters' glue helpers clears the cache and
# Sphinx's saved state: the next build re-reads and re-executes every chapter. The check
# is on content (a hash of src/ kept in _build/.src-hash), not on file times, so a fresh
# checkout with a restored cache (CI) reuses it when the package is the same. An
# unchanged rebuild executes nothing. -W: a failing cell or any other warning fails the build, as in CI.
SRC_HASH = $$(find src book/_ext/glue_helpers.py -type f \( -name '*.py' -o -path '*/weights/*' \) -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)

book: venv data
	@hash=$(SRC_HASH); if [ "$$(cat _build/.src-hash 2>/dev/null)" != "$$hash" ]; then \
	  echo "src/ changed: every chapter will be executed again"; \
	  rm -rf _build/.jupyter_cache _build/.doctrees; mkdir -p _build; echo "$$hash" > _build/.src-hash; fi
	$(PY) book/_ext/execute_chapters.py --cache _build/.jupyter_cache
	$(BIN)/jupyter-book build . --path-output . -W --keep-going

# The chapters' notebooks committed for Colab (notebooks/), written from the chapters with the
# values the build glued into them (book/_ext/reader_notebooks.py; a test fails if they drift).
notebooks: book
	$(PY) book/_ext/reader_notebooks.py

# Where `make train` and `make evaluate` write: ./runs by default, never the shipped weights, and
# neither replaces a file already there. Refreshing what the package ships is a deliberate step:
#   make train OUT=src/ddpm_sampling/weights ARGS="--force unet --device cuda"
#   make evaluate OUT=src/ddpm_sampling/weights ARGS="--force --device cuda"
OUT ?= runs

# Train the networks from scratch with the recorded recipes into $(OUT): ARGS="--device cuda" on a
# GPU (about 5 minutes), on a 2-core CPU most of a day; ARGS="--resume" continues after an interruption.
train: venv data
	$(PY) -m ddpm_sampling.train --out "$(OUT)" $(ARGS)

# The quality table of the trained-network chapter (1,000 samples per point; 2 minutes with
# ARGS="--device cuda", one to two hours on a 2-core CPU) of the shipped weights (or those of
# ARGS="--weights DIR"), written to $(OUT)/evaluation.json with its provenance.
evaluate: venv data
	$(PY) -m ddpm_sampling.evaluate --out "$(OUT)" $(ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: venv data lint
	$(BIN)/pytest

clean:
	rm -rf _build
