# Two commands on a fresh machine: `make demo` and `make test`. Everything else is optional.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export LITELLM_LOCAL_MODEL_COST_MAP := True
export PYTHONPATH := $(CURDIR)

.PHONY: help venv demo test test-fast lint format bench eval clean

help:
	@echo "make demo   - set up, start embedded PostgreSQL, load demo data, run API + portal on 127.0.0.1"
	@echo "make test   - set up and run the whole test suite"
	@echo "make lint   - ruff check + format check"
	@echo "make bench  - platform and project benchmarks (writes var/bench/*.json)"
	@echo "make eval   - evaluation of every project that has one"
	@echo "make clean  - remove the venv, caches and local data"

venv:
	@./scripts/setup_env.sh

demo: venv
	$(PY) -m scripts.demo

test: venv
	$(PY) -m pytest

test-fast: venv
	$(PY) -m pytest -m "not slow"

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: venv
	@mkdir -p var/bench
	$(PY) scripts/bench/retrieval.py --n 100000 --out var/bench/retrieval.json
	$(PY) scripts/bench/serving.py --out var/bench/serving.json
	$(PY) scripts/bench/enterprise_rag.py --n 100000 --out var/bench/enterprise_rag.json
	$(PY) scripts/bench/nl2sql_analytics.py --out var/bench/nl2sql_analytics.json
	$(PY) scripts/bench/nl2sql_linking.py --out var/bench/nl2sql_linking.json
	$(PY) scripts/bench/document_intelligence.py --out var/bench/document_intelligence.json
	$(PY) scripts/bench/multimodal_search.py --out var/bench/multimodal_search.json
	$(PY) scripts/bench/content_moderation.py --out var/bench/content_moderation.json
	$(PY) scripts/bench/support_agent.py --out var/bench/support_agent.json
	$(PY) scripts/bench/code_assistant.py --out var/bench/code_assistant.json
	$(PY) scripts/bench/autonomous_agent.py --out var/bench/autonomous_agent.json

eval: venv
	$(PY) -m scripts.eval_all

clean:
	rm -rf $(VENV) .cache var .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
