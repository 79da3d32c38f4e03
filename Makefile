# OpenECT: `make demo` and `make test` work on a fresh machine (they create .venv).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench clean browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/openect demo
	OPENECT_PSEUDONYM_KEY_FILE=$(CURDIR)/openect-demo/pseudonym.key \
		$(BIN)/openect serve --database sqlite:///$(CURDIR)/openect-demo/registry.sqlite3

test: lint typecheck unit

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

#: Registry tests that run again on PostgreSQL when OPENECT_TEST_DATABASE_URL is set.
REGISTRY_DB_TESTS := tests/test_registry_services.py tests/test_registry_transfer.py \
	tests/test_registry_postgresql.py tests/test_registry_concurrency.py \
	tests/test_registry_audit_chain.py tests/test_registry_access_log.py

#: Debian's chromium for the browser tests (never a downloaded browser).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests..."; \
		{ apt-get install -y -q chromium >/dev/null 2>&1 || \
		  { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null 2>&1; } || \
		  sudo -n apt-get install -y -q chromium >/dev/null 2>&1; } || \
		echo "chromium could not be installed: the browser tests will be skipped"; }

#: The whole suite on up to 4 cores (pytest-xdist); `pytest -p no:xdist` runs it in one process.
#: --dist loadfile runs each test file on one worker (its module fixtures once: a demo run,
#: a server, a browser); tests/conftest.py sends the files with slow tests out first (in the
#: order given, hence --no-loadscope-reorder), so that the workers end together.
unit: $(STAMP) browser
	$(BIN)/pytest -n auto --maxprocesses 4 --dist loadfile --no-loadscope-reorder
	@if [ -n "$$OPENECT_TEST_DATABASE_URL" ]; then \
		echo "Registry tests on PostgreSQL ($$OPENECT_TEST_DATABASE_URL):"; \
		OPENECT_REGISTRY_TEST_BACKEND=postgresql $(BIN)/pytest $(REGISTRY_DB_TESTS); \
	else \
		echo "OPENECT_TEST_DATABASE_URL not set: registry tests ran on SQLite only"; \
	fi

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_dataset.py
	$(BIN)/python benchmarks/bench_field.py
	$(BIN)/python benchmarks/bench_outcomes.py
	$(BIN)/python benchmarks/bench_planning.py
	$(BIN)/python benchmarks/bench_registry.py
	$(BIN)/python benchmarks/bench_web.py
	$(BIN)/python benchmarks/bench_concurrency.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache openect-demo
