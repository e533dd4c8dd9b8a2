# Two commands for a newcomer: `make run` (the engine on its embedded paper config) and
# `make test` (the whole test suite). Both create .venv, install and build on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORE_SRC := $(wildcard engine/_core/*.pyx engine/_core/*.pxd engine/gateway/*.pyx engine/gateway/*.pxd) setup.py
BUILT := $(VENV)/.built
CONFIG ?= config/paper.toml

.PHONY: run test lint bench build clean profile-build

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip setuptools wheel
	$(BIN)/python -m pip install -q -e '.[test,dev]'
	touch $(STAMP)

# pip's editable install already compiles; this rebuilds in place when a .pyx/.pxd changes.
$(BUILT): $(STAMP) $(CORE_SRC)
	$(BIN)/python setup.py -q build_ext --inplace
	touch $(BUILT)

build: $(BUILT)

run: $(BUILT)
	$(BIN)/python -m engine --config $(CONFIG)

test: $(BUILT)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check engine bench tests tools
	$(BIN)/ruff format --check engine bench tests tools
	$(BIN)/mypy
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/cython-lint engine/_core engine/gateway

bench: $(BUILT)
	$(BIN)/python -m bench

# Line-traced build for the latency profilers (never benchmark this build).
profile-build: $(STAMP)
	HFT_TRACE=1 $(BIN)/python setup.py -q build_ext --inplace --force
	rm -f $(BUILT)

clean:
	rm -rf build $(BUILT) engine/_core/*.c engine/_core/*.so engine/_core/*.html engine/gateway/*.c engine/gateway/*.so
