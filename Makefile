# Two commands for a fresh machine: `make book` and `make test`.
# Written for GNU Make 3.81 and bash 3.2, what macOS ships, as well as today's Linux: no GNU-only
# tools (the source hash below is a few lines of Python).
SHELL := /bin/bash
# The interpreter that makes the venv: the one given with `make PYTHON=/path/to/python3.x ...`, or
# else the first of python3.11, python3.12 and python3.13 on the PATH that scripts/check_python.py
# accepts: CPython 3.11.5 or later, 3.12 or 3.13 with venv, on a machine PyTorch ships wheels for
# (Linux x86_64 and aarch64 with glibc 2.28 or later, macOS 14 or later on Apple silicon). With
# none, scripts/find-python.sh says what it found, what is supported and what to do. Looked for
# only when the venv is (re)made.
PYTHON ?=
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export FASHION_MNIST_ROOT ?= $(CURDIR)/data

# Which PyTorch: TORCH=pypi, PyPI's build (the default, what CI installs: on Linux the CUDA build,
# whose CUDA libraries take about 4 GB), or TORCH=cpu, PyTorch's CPU-only build from its own index
# (Linux; PyPI's macOS and Windows builds are CPU-only already). .venv/.installed records the build
# the venv was made with, so TORCH is needed only to change it; a change makes the venv again.
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu
MADE_WITH := $(or $(shell cat $(VENV)/.installed 2>/dev/null),pypi)
TORCH ?= $(MADE_WITH)
# The CPU build installs torch and torchvision at the pinned versions with +cpu, then the rest of
# requirements.txt without the CUDA libraries that only PyPI's Linux build uses.
TORCH_PINS := $(shell grep -E '^torch(vision)?==' requirements.txt)
CUDA_ONLY := ^(nvidia-|cuda-|triton==)

.PHONY: book test lint data venv notebooks train evaluate clean FORCE

venv: $(VENV)/.installed

# The venv is made from scratch each time: exactly the pinned set, with nothing of an older one.
# When any step fails (or is interrupted) the half-made .venv is removed, so nothing
# half-installed is left to look like a working environment.
$(VENV)/.installed: requirements.txt pyproject.toml $(if $(filter-out $(MADE_WITH),$(TORCH)),FORCE)
	@case "$(TORCH)" in pypi|cpu) ;; *) \
	  echo "make: TORCH=$(TORCH) is not a PyTorch build this book installs: TORCH=pypi (PyPI's, the default) or TORCH=cpu (PyTorch's CPU-only build). Nothing was installed." >&2; exit 1;; esac
	@python=$$(scripts/find-python.sh "$(PYTHON)" "$(or $(MAKECMDGOALS),venv)") || exit 1; \
	cpu=; if [ "$(TORCH)" = cpu ]; then \
	  if [ "$$(uname -s)" = Linux ]; then cpu=1; else echo "TORCH=cpu: PyPI's build for $$(uname -s) is CPU-only already; installing it"; fi; fi; \
	echo "making $(VENV) with $$("$$python" -c 'import sys; print(sys.executable + " " + sys.version.split()[0])') and PyTorch's $(TORCH) build (a few minutes)"; \
	rm -rf $(VENV); \
	trap 'rm -rf $(VENV); echo "make: interrupted: the half-made $(VENV) was removed" >&2; exit 130' INT TERM; \
	if ! { "$$python" -m venv $(VENV) \
	    && $(PY) -m pip install --quiet --upgrade pip \
	    && if [ -n "$$cpu" ]; then \
	      $(PY) -m pip install --quiet --no-deps --index-url $(TORCH_CPU_INDEX) $(addsuffix +cpu,$(TORCH_PINS)) \
	      && grep -v -E '$(CUDA_ONLY)' requirements.txt > $(VENV)/requirements-cpu.txt \
	      && $(PY) -m pip install --quiet -r $(VENV)/requirements-cpu.txt; \
	    else $(PY) -m pip install --quiet -r requirements.txt; fi \
	    && $(PY) -m pip install --quiet --no-deps --no-build-isolation -e . ; }; then \
	  rm -rf $(VENV); \
	  echo "make: setting up $(VENV) failed (the message above says why); the half-made $(VENV) was removed. Run make $(or $(MAKECMDGOALS),venv) again once that is fixed." >&2; \
	  exit 1; fi; \
	echo $(TORCH) > $@

data: venv
	PYTHON=$(PY) scripts/get-data.sh

# The chapters are executed into jupyter-cache first, several side by side (book/_ext/execute_chapters.py);
# the build then reads them from the cache. jupyter-cache keys on cell source only, so a change
# under src/ (code or shipped weights) or in the chapters' glue helpers clears the cache and
# Sphinx's saved state: the next build re-reads and re-executes every chapter. The check
# is on content (a hash of src/ kept in _build/.src-hash, scripts/src_hash.py), not on file times, so a fresh
# checkout with a restored cache (CI) reuses it when the package is the same. An
# unchanged rebuild executes nothing. -W is the build's one failure gate, as in the tests and CI: a
# failing cell (myst-nb warns with its traceback), a broken reference or an unknown citation fails
# it (-n: a reference that does not resolve is a warning too); --keep-going reports every problem
# of the build at once. BOOK_ALL=--all re-reads every page (executing nothing that the cache
# holds), so that every page's warnings are seen again: `make test` builds so.
SRC_HASH = $$($(PY) scripts/src_hash.py)
BOOK_ALL ?=

book: venv data
	@hash=$(SRC_HASH); if [ "$$(cat _build/.src-hash 2>/dev/null)" != "$$hash" ]; then \
	  echo "src/ changed: every chapter will be executed again"; \
	  rm -rf _build/.jupyter_cache _build/.doctrees; mkdir -p _build; echo "$$hash" > _build/.src-hash; fi
	$(PY) book/_ext/execute_chapters.py --cache _build/.jupyter_cache
	rm -rf _build/html/reports  # an earlier build's execution reports are no report of this one
	$(BIN)/jupyter-book build . --path-output . -W -n --keep-going $(BOOK_ALL)

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

# The quality table of the chapters on the trained network (1,000 samples per point; 2 minutes with
# ARGS="--device cuda", one to two hours on a 2-core CPU) of the shipped weights (or those of
# ARGS="--weights DIR"), written to $(OUT)/evaluation.json with its provenance.
evaluate: venv data
	$(PY) -m ddpm_sampling.evaluate --out "$(OUT)" $(ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The tests read the strict build that `make book` has just made (tests/conftest.py, BOOK_HTML): no
# chapter is executed twice. Only the exercises' own cells (skeletons with their solutions,
# self-checks, and the cells they read) run again, in a plain kernel. The tests run on every core, at
# most 4 (pytest-xdist: each worker imports torch, and the browser checks alone take a minute and a
# half), each test module in one worker, the slowest first. SITE_SCREENSHOTS=folder also saves a
# screenshot of every page that the browser checks.
test: BOOK_ALL := --all
test: venv data lint book
	BOOK_HTML="$(CURDIR)/_build/html" $(BIN)/pytest -n auto --maxprocesses 4 --dist loadfile --no-loadscope-reorder

FORCE:

clean:
	rm -rf _build
