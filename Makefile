# Everything a fresh machine needs, from two commands: `make demo` and `make test`. Both are idempotent.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYWB_VENV := .pywb-venv
RWP_DIR := .replaywebpage
# make demo STORE=file: crawl straight into ./archive-data instead of the demo's local S3 (SeaweedFS).
STORE ?= s3

.PHONY: demo test lint typecheck unit eval bench bench-memory scrapyd deps venv system-deps pywb replaywebpage clean

demo: deps
	$(BIN)/python -m devtools.demo --store $(STORE)

# The last step is the real-page quality gate (pinned baseline in bench/eval_baseline.json); without
# ../shared/evaldata it says it was not run, and under CI=true a missing folder fails.
test: deps pywb
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)
	$(BIN)/python bench/eval_extraction.py --gate

lint:
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy

# Ours vs plain trafilatura on the trafilatura set (both halves), the Arabic dev set and the newsroom gold:
# one table, per-page JSON in .eval-cache/eval-pages.json.
eval: deps
	$(BIN)/python bench/eval_extraction.py
	$(BIN)/python bench/eval_relevance.py --min-precision 0.95 --min-recall 0.95
	$(BIN)/python bench/eval_neardup.py --min-precision 0.95 --min-recall 0.95

# The peer row runs what a user would assemble from PyPI in a venv of its own (bench/peer/requirements.txt).
PEER_VENV := .peer-venv

$(PEER_VENV)/.installed: bench/peer/requirements.txt
	test -x $(PEER_VENV)/bin/python || $(PY) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/pip install -q -r bench/peer/requirements.txt
	touch $@

bench: deps $(PEER_VENV)/.installed
	$(BIN)/python bench/eval_extraction.py --cost
	$(BIN)/python bench/pipeline.py
	# Focused crawling on a 20,000-article pan-Arab site: recall and harvest rate at 10 % of its pages.
	$(BIN)/python bench/focus.py --articles 20000 --min-recall 0.95

# Main-process peak RSS of whole-site crawls of a 20,000- and a 100,000-article pan-Arab site (about 40 min
# on 2 quiet cores; it says the disk it needs, about 11 GiB, and removes what it wrote). Exit 1 above +10 %.
bench-memory: deps
	$(BIN)/python bench/memory.py --articles 20000 100000 --no-requisites --no-corpus

scrapyd: deps
	./scripts/scrapyd.sh

deps: venv system-deps replaywebpage

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade "pip" "setuptools<81" wheel
	$(BIN)/pip install -q -c constraints.txt -e ".[test,ops]"
	touch $(STAMP)

system-deps:
	./scripts/system-deps.sh

pywb:
	./scripts/pywb-venv.sh $(PYWB_VENV)

# ReplayWeb.page's static files (npm package replaywebpage) for the ReplayWeb.page replay test.
replaywebpage: system-deps
	./scripts/replaywebpage.sh $(RWP_DIR)

clean:
	rm -rf archive-data archive-spool .demo build *.egg-info
