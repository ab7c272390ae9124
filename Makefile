# The project's interface: `make run`, `make test`, `make lint`, `make bench`, `make migrate`.
# Only Python 3.11+ is needed; everything else is installed into .venv.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
STATE := .kizuna
export KIZUNA_DATABASE_URL ?= sqlite+aiosqlite:///./kizuna.db

.PHONY: install run test lint format bench chaos migrate clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Kizuna needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

$(STATE)/admin-key: | $(STAMP)
	@mkdir -p $(STATE)
	@$(BIN)/python -c 'from orchestrator.services.api_keys import new_key; print(new_key())' > $@

migrate: install
	$(BIN)/kizuna migrate

run: install $(STATE)/admin-key
	$(BIN)/kizuna migrate
	KIZUNA_ADMIN_API_KEY=$$(cat $(STATE)/admin-key) $(BIN)/kizuna demo
	@echo "Admin API key: $$(cat $(STATE)/admin-key)"
	@echo "API docs:      http://$${KIZUNA_HOST:-127.0.0.1}:$${KIZUNA_PORT:-8000}/docs"
	KIZUNA_ADMIN_API_KEY=$$(cat $(STATE)/admin-key) $(BIN)/kizuna serve

test: install
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: install
	$(BIN)/python -m bench

# Fault scenarios against the real processes on a private PostgreSQL (needs root for the
# tmpfs of the disk-full scenario); CHAOS_ARGS=--short is the CI size.
chaos: install
	$(BIN)/python -m bench.chaos $(CHAOS_ARGS)

clean:
	rm -rf $(VENV) $(STATE) kizuna.db kizuna.db-wal kizuna.db-shm .pytest_cache .mypy_cache .ruff_cache
