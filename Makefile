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
TEST_WORKERS ?= 2  # pytest-xdist processes of make test (whole test files go to one process)
# one dataset folder for make, the notebooks and newretail.datasets.load (exported to every command below); the
# dataset's own folder is named by the package's dataset_path (standard library only, so it runs before setup)
NEWRETAIL_DATA ?= $(CURDIR)/data/synthetic
export NEWRETAIL_DATA
DATA := $(shell PYTHONPATH="$(CURDIR)" $(PYTHON) -c "from newretail.datasets import dataset_path; \
	print(dataset_path('$(SCENARIO)', scale=float('$(SCALE)'), seed=int('$(SEED)'), root='$(NEWRETAIL_DATA)'))")
$(if $(DATA),,$(error cannot name the dataset folder for SCENARIO=$(SCENARIO) SCALE=$(SCALE) SEED=$(SEED)))
BUILD := paper/build
SOURCES := $(shell find newretail -name '*.py' -o -name '*.toml' 2>/dev/null)
export OMP_WAIT_POLICY := PASSIVE
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.DEFAULT_GOAL := help
.PHONY: help setup data data-path test test-slow test-notebooks lint paper lab lock clean docs bench stress-dense package site browser-test coverage mutation

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-8s %s\n", $$1, $$2}'

# --compile-bytecode writes the .pyc files as it installs: every fresh process (the CLI, a test's subprocess, a
# notebook kernel) then reads numpy's, scipy's and polars' bytecode instead of compiling them again, about 1.5 s of CPU
# per process wherever Python does not write bytecode itself (a read-only venv, PYTHONDONTWRITEBYTECODE, as on the
# machines here)
$(BIN)/.installed: pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	$(BIN)/python -m compileall -q newretail  # the package's own bytecode too (an edited module is compiled anew)
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

setup: $(BIN)/.installed ## Create .venv and install the pinned dependencies (uv, from requirements.lock)

# the dataset depends on the generator's code, the table contract and the scenarios; its folder name carries
# scenario, scale and seed
GENERATOR := $(wildcard newretail/generate/*.py newretail/tables/*.py newretail/scenarios/*.toml) newretail/scenario.py

$(DATA)/manifest.json: $(BIN)/.installed $(GENERATOR)
	$(BIN)/newretail generate --scenario $(SCENARIO) --scale $(SCALE) --seed $(SEED) --out $(DATA) --workers $(WORKERS) --overwrite

data: $(DATA)/manifest.json ## Generate the default dataset (SCALE, SEED, SCENARIO to change it) into NEWRETAIL_DATA

data-path: ## Print the dataset folder that make data and datasets.load use for SCENARIO, SCALE, SEED
	@echo $(DATA)

lint: setup ## ruff and mypy over the package
	$(BIN)/ruff check newretail tests
	$(BIN)/mypy newretail

PYTEST := $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile --durations=15 --ignore=tests/packaging --ignore=tests/browser

# three steps of one suite, each its own CI stage: make test (about 5 minutes on two quiet cores, no test over a
# minute), make test-slow (the studies over many cities or seeds, marked slow, with the same tolerances), make
# test-notebooks; tests/packaging and tests/browser run in make package / make browser-test
test: setup ## Set up and run the test suite: lint, types, unit and integration tests (slow studies: make test-slow)
	$(BIN)/ruff check newretail tests
	$(BIN)/mypy newretail
	$(PYTEST) -m "not notebook and not slow"

test-slow: setup ## The expensive studies (many cities, seeds or recalibrations), marked slow: their own CI step
	$(PYTEST) -m "slow and not notebook"

test-notebooks: setup ## The tests that execute notebooks headless at a small scale (and the paper build's)
	$(PYTEST) -m notebook

# the paper: one executed copy per notebook (re-run when that notebook, the data, the scenarios or a package module
# it imports changes), then claims.json and results.json, then paper.pdf; a new notebooks/*.ipynb joins without
# editing anything here. $(BUILD)/deps.mk lists, per notebook and for the claims step, the newretail modules they
# import (transitively, read with ast by `python -m newretail.report deps`); it is rewritten when a notebook or a
# module changes, and read only by the paper's targets.
NOTEBOOK_DIR ?= notebooks
PAPER_SRC ?= paper
NOTEBOOKS := $(sort $(wildcard $(NOTEBOOK_DIR)/*.ipynb))
EXECUTED := $(patsubst $(NOTEBOOK_DIR)/%.ipynb,$(BUILD)/notebooks/%.ipynb,$(NOTEBOOKS))
PAPER_CODE := $(wildcard newretail/report/*.py)
SETTINGS := $(filter %.toml,$(SOURCES))
PAPER_STEP := $(BIN)/python -m newretail.report
DEPS := $(BUILD)/deps.mk

paper: $(BUILD)/paper.pdf ## Set up, generate, execute the notebooks and typeset paper/build/paper.pdf

$(DEPS): $(NOTEBOOKS) $(filter %.py,$(SOURCES)) | $(BIN)/.installed
	@$(PAPER_STEP) deps $(NOTEBOOKS) --out $(BUILD) >/dev/null

ifneq ($(filter paper $(BUILD)/%,$(MAKECMDGOALS)),)
-include $(DEPS)
endif

$(BUILD)/notebooks/%.ipynb: $(NOTEBOOK_DIR)/%.ipynb $(DATA)/manifest.json $(SETTINGS) $(BIN)/.installed
	$(PAPER_STEP) run $< --dataset $(DATA) --scale $(SCALE) --seed $(SEED) --out $(BUILD)

$(BUILD)/claims.json: $(DATA)/manifest.json $(SETTINGS) $(BIN)/.installed
	$(PAPER_STEP) claims --dataset $(DATA) --out $(BUILD)

$(BUILD)/results.json: $(EXECUTED) $(BUILD)/claims.json $(PAPER_CODE) requirements.lock $(wildcard $(NOTEBOOK_DIR))
	$(PAPER_STEP) collect $(NOTEBOOKS) --dataset $(DATA) --out $(BUILD)

$(BUILD)/paper.pdf: $(BUILD)/results.json $(wildcard $(PAPER_SRC)/*.typ $(PAPER_SRC)/*.bib) $(PAPER_CODE)
	$(PAPER_STEP) typeset --source $(PAPER_SRC) --out $(BUILD)

# the website: the notebooks as `make paper` executed them (no second run), docs/*.md, the API pages of
# docs/api/api.toml, the claims table and the PDF, built by MkDocs Material (website/); works from `python -m http.server`
SITE := $(BUILD)/site

site: $(BUILD)/paper.pdf ## Build the tutorial website from what `make paper` built: paper/build/site
	$(BIN)/python website/build.py --build $(BUILD) --out $(SITE)

# real-browser tests (Debian's chromium, `.ci/setup-browser` installs it; Playwright from the lock): every notebook
# Run All in JupyterLab at the test scale, notebook 06's slider, and the site if `make site` built it
browser-test: setup ## Real-browser tests (JupyterLab Run All, sliders, the site); screenshots of failures in paper/build/screenshots
	NEWRETAIL_BROWSER_TESTS=1 $(BIN)/python -m pytest tests/browser -p no:cacheprovider

COVERAGE_SEEDS ?= 120
COVERAGE_SCALE ?= 5e-6
coverage: setup ## Coverage study of the claims' intervals over COVERAGE_SEEDS days -> docs/coverage.md (resumable)
	$(BIN)/newretail coverage --scale $(COVERAGE_SCALE) --seeds $(COVERAGE_SEEDS) --workers $(WORKERS)

docs: setup ## Regenerate docs/data_dictionary.md from the table schemas
	$(BIN)/python -m newretail.tables > docs/data_dictionary.md

lab: setup ## Open the notebooks in JupyterLab
	$(BIN)/jupyter lab notebooks

lock: ## Re-resolve requirements.lock from pyproject.toml (needs the registry)
	$(BIN)/uv pip compile pyproject.toml --all-extras --python-version 3.11 -o requirements.lock

mutation: setup ## Mutation testing (mutmut) of methods, claims, calibration: benchmarks/results/mutation.md
	$(BIN)/python benchmarks/mutation.py

BENCH ?= throughput memory models end_to_end

bench: setup ## Run the benchmarks (on demand, ~30 min; BENCH= to choose): tables in benchmarks/results/
	@for b in $(BENCH); do echo "== benchmarks/$$b.py"; $(BIN)/python benchmarks/$$b.py || exit 1; done

# notebook 06 runs the stress grid paper.toml; dense.toml is finer (1690 points, about 6 min on two cores), resumes
# when interrupted, and shares the notebook's cache, so the notebook can then show it at no cost (grid = "dense")
stress-dense: setup ## Run the dense stress sweep (resumable): $NEWRETAIL_DATA/stress-dense/results.parquet
	$(BIN)/newretail stress --scenario $(SCENARIO) --grid dense --seed $(SEED) --workers $(WORKERS) \
		--out $(NEWRETAIL_DATA)/stress-dense --cache $(NEWRETAIL_DATA)/stress-cache

# dist/newretail-<version>.tar.gz and the wheel, then the wheel installed into three fresh environments (the core
# install, the core beside pandas<3, every extra together) and run in an empty folder (tests/packaging/; the lock's
# wheels are linked from uv's cache, so installs take seconds; most of the time is the scenario's calibration, solved
# once per fresh process)
package: setup ## Build the sdist and wheel into dist/ and test them installed outside the checkout
	NEWRETAIL_PACKAGING=1 NEWRETAIL_DIST=$(CURDIR)/dist $(BIN)/python -m pytest tests/packaging -p no:cacheprovider \
		--durations=0

clean: ## Remove the build output and the generated data (keeps .venv)
	rm -rf $(BUILD) data/synthetic/*/
