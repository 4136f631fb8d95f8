# The README's commands. `make run` and `make test` work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= config.toml
LOCK := requirements.lock
# A changed lock or pyproject.toml names another stamp, so the next target reinstalls.
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | cksum | cut -d' ' -f1)

.PHONY: run test install lock lint bench clean help

help:  ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

# The pinned versions first, then the project alone; `pip check` fails when pyproject.toml
# asks for something the lock does not hold (re-run `make lock`).
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing $(LOCK) into $(VENV) (log: $(VENV)/install.log)"
	@$(BIN)/python -m pip install --upgrade pip > $(VENV)/install.log 2>&1 \
	  && $(BIN)/python -m pip install -r $(LOCK) >> $(VENV)/install.log 2>&1 \
	  && $(BIN)/python -m pip install --no-deps -e . >> $(VENV)/install.log 2>&1 \
	  && $(BIN)/python -m pip check >> $(VENV)/install.log 2>&1 \
	  || { tail -40 $(VENV)/install.log; exit 1; }
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)  ## Create .venv and install the pinned dependencies, then the project

lock:  ## Re-resolve pyproject.toml's dependencies into requirements.lock (.ci/lock)
	bash .ci/lock $(PYTHON) $(LOCK)

run: install  ## The editorial week on the bundled examples: draft, notice, approval, send
	$(BIN)/insights --config $(CONFIG) demo

test: install  ## Run the whole test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install  ## ruff over the code and tests, mypy over the code (strict on the core)
	$(BIN)/ruff check pipeline subscribers tests bench
	$(BIN)/mypy pipeline subscribers

clean:  ## Remove the local database, outbox and previews (not the venv)
	rm -rf var outbox preview
