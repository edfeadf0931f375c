# Two commands set everything up on a fresh machine:
#   make run    install, then run newsdesk (the Discord bot with DISCORD_TOKEN set, else the terminal session)
#   make test   install with the dev extras, then run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch first and pinned: the CPU build; an unpinned torch pulls a multi-GB CUDA build.
TORCH := torch==2.13.0

.PHONY: run test install install-dev bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e .

install-dev: $(BIN)/python
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e '.[dev]'

run: install
	HF_HUB_OFFLINE=1 $(BIN)/newsdesk $(ARGS)

test: install-dev
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: install-dev
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/run_all.py --quick
