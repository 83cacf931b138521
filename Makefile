# `make run` and `make test` set up .venv on first use; nothing else is needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-slow lint bench clean browser

$(STAMP): pyproject.toml setup.py policy/_core.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	bash examples/walkthrough.sh

# The browser tests drive Debian's Chromium (never a downloaded one) and need a CJK font for their
# screenshots; installed here when missing and possible (root with apt-get), else the tests skip.
BROWSER_PACKAGES := chromium fonts-wqy-microhei
browser:
	@if command -v chromium >/dev/null && fc-list :lang=zh 2>/dev/null | grep -q .; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing Debian's $(BROWSER_PACKAGES) for the browser tests"; \
	  apt-get install -y -q $(BROWSER_PACKAGES) >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q $(BROWSER_PACKAGES) >/dev/null; } || \
	  echo "could not install $(BROWSER_PACKAGES): the browser tests will skip"; \
	else echo "no chromium (apt-get install $(BROWSER_PACKAGES)): the browser tests will skip"; fi

test: $(STAMP) browser
	$(BIN)/ruff check policy tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/policy lint conventions
	$(BIN)/policy fmt --check conventions
	$(BIN)/policy test conventions
	$(BIN)/policy coverage conventions > /dev/null
	$(BIN)/python -m pytest

test-pure: $(STAMP) browser  # the whole suite again on the pure-Python path (CI runs it after make test)
	POLICY_PURE_PYTHON=1 $(BIN)/python -m pytest

test-slow: $(STAMP)  # the million-input fuzz, 300 kills of a ledger writer, the deepest nestings
	$(BIN)/python -m pytest -m slow -s

bench: $(STAMP)
	$(BIN)/python -m pytest benchmarks --benchmark-enable

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
