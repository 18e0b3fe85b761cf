# smartlic — two commands on a fresh machine: `make demo` and `make test`.
# Everything else (the virtual environment, Python packages) is installed on first use.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install demo test lint format bench clean golden browser fuzz

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
	$(BIN)/ruff check src tests bench scripts fuzz
	$(BIN)/ruff format --check src tests bench scripts fuzz
	$(BIN)/mypy

format: install
	$(BIN)/ruff format src tests bench scripts fuzz
	$(BIN)/ruff check --fix src tests bench scripts fuzz

test: lint browser
	url="$$(scripts/ensure-postgres.sh)" && SMARTLIC_TEST_PG_URL="$$url" $(BIN)/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

bench: install
	url="$$(scripts/ensure-postgres.sh)" && SMARTLIC_BENCH_PG_URL="$$url" $(BIN)/python bench/run_all.py

# Coverage-guided fuzzing of every parser with atheris (fuzz/), FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 60
fuzz: install
	$(BIN)/python -c 'import atheris' 2>/dev/null || $(BIN)/python -m pip install --quiet -e '.[fuzz]'
	FUZZ_SECONDS=$(FUZZ_SECONDS) $(BIN)/python fuzz/run_all.py

golden: install
	$(BIN)/python scripts/make_golden_vectors.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
