# Each target creates .venv and installs what it needs, so each works alone on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# setuptools warns on every editable install that a same-named folder may shadow the package: it is the package.
PIP    := PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet

.PHONY: run test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files: reinstall only when pyproject.toml changes.
$(VENV)/.installed-base: pyproject.toml | $(BIN)/python
	$(PIP) -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP) -e '.[test]'
	touch $@ $(VENV)/.installed-base

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(PIP) -e '.[bench]'
	touch $@ $(VENV)/.installed-base

run: $(VENV)/.installed-base
	$(BIN)/weightlens analyze sample_weights/tiny_model

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest

# ruff check (not ruff format) and strict mypy on the package; both must report zero findings.
lint: $(VENV)/.installed-test
	$(BIN)/ruff check weightlens tests bench
	$(BIN)/mypy

bench: $(VENV)/.installed-bench
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis .mypy_cache .ruff_cache bench/out
