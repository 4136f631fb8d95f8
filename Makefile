# The README's commands. `make run` and `make test` work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CONFIG ?= config.toml
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test install lint bench clean help

help:  ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing into $(VENV) (log: $(VENV)/install.log)"
	@$(BIN)/python -m pip install --upgrade pip > $(VENV)/install.log 2>&1 \
	  && $(BIN)/python -m pip install -e '.[test,postgres,preview]' >> $(VENV)/install.log 2>&1 \
	  || { tail -40 $(VENV)/install.log; exit 1; }
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)  ## Create .venv and install the project with its test extras

run: install  ## Run the weekly job once on the bundled examples (imports them on first use)
	@if [ ! -f var/.examples-imported ]; then \
	  $(BIN)/insights --config $(CONFIG) subscribers import examples/subscribers.csv --list members \
	  && mkdir -p var && touch var/.examples-imported; fi
	$(BIN)/insights --config $(CONFIG) run

test: install  ## Run the whole test suite
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install  ## ruff over the code and tests, mypy over the code (strict on the core)
	$(BIN)/ruff check pipeline subscribers tests bench
	$(BIN)/mypy pipeline subscribers

clean:  ## Remove the local database, outbox and previews (not the venv)
	rm -rf var outbox preview
