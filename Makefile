# Quick start:  make demo   (set up .venv, run the main job)
#               make test   (set up .venv, lint, type-check, run the tests)
VENV  := .venv
STAMP := $(VENV)/.twinkit-installed
BIN   := $(VENV)/bin

.PHONY: demo test lint docs servers setup clean

$(STAMP): pyproject.toml scripts/bootstrap.sh
	@bash scripts/bootstrap.sh dev
	@touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/twinkit run cases/furnace.yaml

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	bash scripts/typecheck.sh

docs: $(STAMP)
	bash docs/build.sh

servers:
	@bash scripts/servers.sh

test: lint docs servers
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf runs .pytest_cache .mypy_cache .ruff_cache
