# Two commands matter: `make serve` (run voxrt on the embedded models) and `make test`.
# Each creates or updates .venv and installs what it needs from the package registries.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The browser tests drive Debian's Chromium (nothing downloads a browser).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: serve test bench bench-stream bench-accuracy bench-compare clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null

# The real-speech tests fetch Debian's Asterisk prompts with apt-get download: the package lists
# must know them (a fresh machine has run no apt-get update yet).
$(VENV)/.apt-lists: | $(BIN)/python
	apt-cache show asterisk-core-sounds-en-wav >/dev/null 2>&1 || $(SUDO) apt-get update -qq
	touch $@

serve: $(VENV)/.installed
	$(BIN)/voxrt serve $(ARGS)

test: $(VENV)/.installed-dev $(CHROMIUM) $(VENV)/.apt-lists
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-dev
	$(BIN)/voxrt bench transcribe $(ARGS)

bench-stream: $(VENV)/.installed-dev
	$(BIN)/voxrt bench stream $(or $(ARGS),--sweep 1,4,6,8,10,12 --utterances 6)

# WER of each path (raw model, REST formats, realtime) on real English speech
bench-accuracy: $(VENV)/.installed-dev $(VENV)/.apt-lists
	$(BIN)/voxrt bench accuracy $(ARGS)

# voxrt beside WhisperLive and WhisperLiveKit (each installed on first run into bench-results/peers/)
bench-compare: $(VENV)/.installed-dev
	$(BIN)/python -m bench.compare $(ARGS)

clean:
	rm -rf $(VENV) bench-results .pytest_cache .mypy_cache .ruff_cache
