# `make demo` and `make test` work on a fresh machine: they create .venv and install what they need.
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin
DEMO_DIR = build/demo

.PHONY: install demo test clean

install: $(VENV)/.installed

# torch is installed on its own first so pip takes the CPU build named by its exact pin.
$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

demo: install
	$(BIN)/mimo-data sample-corpus $(DEMO_DIR)/corpus
	$(BIN)/mimo-data build pipelines/demo.yaml --verbose
	$(BIN)/mimo-data inspect $(DEMO_DIR)/shards/stage-1 --sample-chars 300

test: install
	$(BIN)/python -m pytest -q

clean:
	rm -rf build $(VENV)
