# `make run` and `make test` set up .venv on first use; nothing else is needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-slow lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	bash examples/walkthrough.sh

test: $(STAMP)
	$(BIN)/ruff check policy tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/policy lint conventions
	$(BIN)/policy fmt --check conventions
	$(BIN)/policy test conventions
	$(BIN)/policy coverage conventions > /dev/null
	$(BIN)/python -m pytest

test-slow: $(STAMP)  # the million-input fuzz, 300 kills of a ledger writer, the deepest nestings
	$(BIN)/python -m pytest -m slow -s

bench: $(STAMP)
	$(BIN)/python -m pytest benchmarks --benchmark-enable

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
