# smartlic — two commands on a fresh machine: `make demo` and `make test`.
# Everything else (the virtual environment, Python packages) is installed on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install demo test lint format bench clean golden browser

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "smartlic needs Python >= 3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The browser tests drive Debian's chromium through Playwright (no browser download).
browser:
	@test -x /usr/bin/chromium || { echo "installing chromium from the Debian packages"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

demo: install
	$(BIN)/smartlic lab demo

lint: install
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts
	$(BIN)/mypy

format: install
	$(BIN)/ruff format src tests bench scripts
	$(BIN)/ruff check --fix src tests bench scripts

test: lint browser
	url="$$(scripts/ensure-postgres.sh)" && SMARTLIC_TEST_PG_URL="$$url" $(BIN)/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

bench: install
	url="$$(scripts/ensure-postgres.sh)" && SMARTLIC_BENCH_PG_URL="$$url" $(BIN)/python bench/run_all.py

golden: install
	$(BIN)/python scripts/make_golden_vectors.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
