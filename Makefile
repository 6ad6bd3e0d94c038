# newretail: `make paper` builds the reviewer's PDF from a fresh clone, `make test` runs the whole suite.
# Both set up .venv from the lock file first. `make help` lists every target.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
SCENARIO ?= singles_day_2017
SCALE ?= 1e-4
SEED ?= 20171111
WORKERS ?= 2
DATA := data/synthetic/$(SCENARIO)
BUILD := paper/build
SOURCES := $(shell find newretail -name '*.py' -o -name '*.toml' 2>/dev/null)
export OMP_WAIT_POLICY := PASSIVE
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.DEFAULT_GOAL := help
.PHONY: help setup data test lint paper lab lock clean docs bench stress-dense coverage

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-8s %s\n", $$1, $$2}'

$(BIN)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

setup: $(BIN)/.installed ## Create .venv and install the pinned dependencies (uv, from requirements.lock)

# the dataset depends on the generator's code, the scenarios and the run's parameters (kept in a stamp file)
$(DATA)/.params-$(SCALE)-$(SEED): | $(BIN)/.installed
	@mkdir -p $(DATA) && rm -f $(DATA)/.params-* && touch $@

GENERATOR := $(wildcard newretail/generate/*.py newretail/scenarios/*.toml) newretail/scenario.py newretail/schemas.py

$(DATA)/manifest.json: $(BIN)/.installed $(GENERATOR) $(DATA)/.params-$(SCALE)-$(SEED)
	$(BIN)/newretail generate --scenario $(SCENARIO) --scale $(SCALE) --seed $(SEED) --out $(DATA) --workers $(WORKERS) --overwrite

data: $(DATA)/manifest.json ## Generate the default dataset (SCALE, SEED, SCENARIO to change it)

lint: setup ## ruff and mypy over the package
	$(BIN)/ruff check newretail tests
	$(BIN)/mypy newretail

test: setup ## Set up and run the whole test suite (lint, types, unit, notebooks at a small scale)
	$(BIN)/ruff check newretail tests
	$(BIN)/mypy newretail
	$(BIN)/python -m pytest

# the paper: one executed copy per notebook (re-run when that notebook, the data or the package changes), then
# claims.json and results.json, then paper.pdf; a new notebooks/*.ipynb joins without editing anything here
NOTEBOOK_DIR ?= notebooks
PAPER_SRC ?= paper
NOTEBOOKS := $(sort $(wildcard $(NOTEBOOK_DIR)/*.ipynb))
EXECUTED := $(patsubst $(NOTEBOOK_DIR)/%.ipynb,$(BUILD)/notebooks/%.ipynb,$(NOTEBOOKS))
PAPER_CODE := $(wildcard newretail/paper/*.py)
ANALYSIS := $(filter-out $(PAPER_CODE),$(SOURCES))
PAPER_STEP := $(BIN)/python -m newretail.paper

paper: $(BUILD)/paper.pdf ## Set up, generate, execute the notebooks and typeset paper/build/paper.pdf

$(BUILD)/notebooks/%.ipynb: $(NOTEBOOK_DIR)/%.ipynb $(DATA)/manifest.json $(ANALYSIS) $(BIN)/.installed
	$(PAPER_STEP) run $< --dataset $(DATA) --scale $(SCALE) --seed $(SEED) --out $(BUILD)

$(BUILD)/claims.json: $(DATA)/manifest.json $(ANALYSIS) $(BIN)/.installed
	$(PAPER_STEP) claims --dataset $(DATA) --out $(BUILD)

$(BUILD)/results.json: $(EXECUTED) $(BUILD)/claims.json $(PAPER_CODE) requirements.lock $(wildcard $(NOTEBOOK_DIR))
	$(PAPER_STEP) collect $(NOTEBOOKS) --dataset $(DATA) --out $(BUILD)

$(BUILD)/paper.pdf: $(BUILD)/results.json $(wildcard $(PAPER_SRC)/*.typ $(PAPER_SRC)/*.bib) $(PAPER_CODE)
	$(PAPER_STEP) typeset --source $(PAPER_SRC) --out $(BUILD)

COVERAGE_SEEDS ?= 120
COVERAGE_SCALE ?= 5e-6
coverage: setup ## Coverage study of the claims' intervals over COVERAGE_SEEDS days -> docs/coverage.md (resumable)
	$(BIN)/newretail coverage --scale $(COVERAGE_SCALE) --seeds $(COVERAGE_SEEDS) --workers $(WORKERS)

docs: setup ## Regenerate docs/data_dictionary.md from the table schemas
	$(BIN)/python -m newretail.schemas > docs/data_dictionary.md

lab: setup ## Open the notebooks in JupyterLab
	$(BIN)/jupyter lab notebooks

lock: ## Re-resolve requirements.lock from pyproject.toml (needs the registry)
	$(BIN)/uv pip compile pyproject.toml --all-extras --python-version 3.11 -o requirements.lock

BENCH ?= throughput memory models end_to_end

bench: setup ## Run the benchmarks (on demand, ~30 min; BENCH= to choose): tables in benchmarks/results/
	@for b in $(BENCH); do echo "== benchmarks/$$b.py"; $(BIN)/python benchmarks/$$b.py || exit 1; done

# notebook 06 runs the stress grid paper.toml; dense.toml is finer (1690 points, about 6 min on two cores), resumes
# when interrupted, and shares the notebook's cache, so the notebook can then show it at no cost (grid = "dense")
stress-dense: setup ## Run the dense stress sweep (resumable): data/synthetic/stress-dense/results.parquet
	$(BIN)/newretail stress --scenario $(SCENARIO) --grid dense --seed $(SEED) --workers $(WORKERS) \
		--out data/synthetic/stress-dense --cache data/synthetic/stress-cache

clean: ## Remove the build output and the generated data (keeps .venv)
	rm -rf $(BUILD) data/synthetic/*/
