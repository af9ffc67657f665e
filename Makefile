# Two commands for a fresh machine: `make book` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
export FASHION_MNIST_ROOT ?= $(CURDIR)/data

.PHONY: book test lint data venv clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

data: venv
	PYTHON=$(PY) scripts/get-data.sh

book: venv data
	$(BIN)/jupyter-book build . --path-output . 

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: venv data lint
	$(BIN)/pytest

clean:
	rm -rf _build
