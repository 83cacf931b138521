# `make run` and `make test` set up .venv on first use; nothing else is needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-pure test-asan test-slow lint bench clean browser

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

test-asan: $(STAMP)  # the compiled core's tests against a copy built with AddressSanitizer and UBSan
	rm -rf .asan && mkdir -p .asan && cp -r policy tests grammar conventions pyproject.toml .asan/ && rm -f .asan/policy/_core*.so
	gcc -shared -fPIC -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -std=c99 \
	    -I"$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_paths()["include"])')" policy/_core.c \
	    -o .asan/policy/_core$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
	cd .asan && ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
	    ../$(BIN)/python -c 'import policy._core as c; assert "/.asan/" in c.__file__, c.__file__' && \
	    ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    LD_PRELOAD="$$(gcc -print-file-name=libasan.so) $$(gcc -print-file-name=libubsan.so)" \
	    ../$(BIN)/python -m pytest -p no:cacheprovider tests/test_core.py

test-slow: $(STAMP)  # the million-input fuzz, 300 kills of a ledger writer, the deepest nestings
	$(BIN)/python -m pytest -m slow -s

bench: $(STAMP)
	$(BIN)/python -m pytest benchmarks --benchmark-enable

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache
