# Tuneloop: `make demo` to see it work, `make run` to use it, `make test` to check it.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
LLM_STAMP := $(VENV)/.llm-installed-stamp
BOOTSTRAP := services/devstack/bootstrap.sh
PACKAGES := -e shared -e services/gateway -e services/worker -e services/devstack -e services/cli

.PHONY: demo run test unit integration compose-test lint format bench screenshots venv clean \
        llm demo-llm

demo: $(STAMP)
	@$(BOOTSTRAP) redis-server
	$(PY) -m tuneloop_devstack.demo

# Language models with LoRA: a tiny model built here, a supervised and a DPO job, on CPU.
demo-llm: $(LLM_STAMP)
	@$(BOOTSTRAP) redis-server
	$(PY) -m tuneloop_devstack.demo_llm

# Keeps its data (Redis, the generated key, logs) in TUNELOOP_DATA_DIR, default .tuneloop/ here.
# With the llm extra installed (`make llm`) it also starts an llm worker.
run: $(STAMP)
	@[ -n "$$REDIS_URL" ] || $(BOOTSTRAP) redis-server
	exec $(PY) -m tuneloop_devstack.run

# The suite includes the language-model tests: the llm extra is installed first.
test: $(STAMP) $(LLM_STAMP)
	@$(BOOTSTRAP) redis-server docker-compose chromium chromium-driver
	$(PY) -m pytest -q

unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

integration: $(STAMP)
	@$(BOOTSTRAP) redis-server
	$(PY) -m pytest -q tests/integration

# The compose stack for real: Docker engine (started if needed), images, scale, stop, monitoring.
compose-test: $(STAMP)
	@$(BOOTSTRAP) docker-compose
	$(PY) tests/compose/compose_check.py $(COMPOSE_TEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP)
	@$(BOOTSTRAP) redis-server
	@$(BOOTSTRAP) wrk || echo "bench_gateway.py will use its Python load generator (ratios compressed)"
	$(PY) tests/benchmarks/bench_task_accuracy.py
	$(PY) tests/benchmarks/bench_job_latency.py
	$(PY) tests/benchmarks/bench_banking77.py
	$(PY) tests/benchmarks/bench_banking77_default.py
	$(PY) tests/benchmarks/bench_out_of_scope.py
	$(PY) tests/benchmarks/bench_many_tasks.py
	$(PY) tests/benchmarks/bench_scale.py
	$(PY) tests/benchmarks/bench_slow_clients.py
	$(PY) tests/benchmarks/bench_job_read.py
	$(PY) tests/benchmarks/bench_pages.py
	$(PY) tests/benchmarks/bench_cli_ingest.py
	$(PY) tests/benchmarks/bench_openai_files.py
	$(PY) tests/benchmarks/bench_upload_loop.py
	$(PY) tests/benchmarks/bench_budget_uploads.py
	$(PY) tests/benchmarks/bench_webhook_latency.py
	$(PY) tests/benchmarks/bench_interaction_filters.py
	$(PY) tests/benchmarks/bench_gateway.py
	$(PY) tests/benchmarks/bench_filter.py
	$(PY) tests/benchmarks/bench_encoder.py
	@$(BOOTSTRAP) docker-compose
	$(PY) tests/benchmarks/bench_embed_scaleout.py
	@if $(PY) -c 'import torch, trl, peft' 2>/dev/null; then \
	  $(PY) tests/benchmarks/bench_llm.py; \
	else echo "bench_llm.py skipped: the llm extra is not installed (make llm)"; fi

# The README's pictures: the pages from the browser test, the CLI from a pseudo-terminal.
screenshots: $(STAMP)
	@$(BOOTSTRAP) redis-server chromium chromium-driver
	rm -rf artifacts/browser
	TUNELOOP_ARTIFACTS=$(CURDIR)/artifacts $(PY) -m pytest -q tests/integration/test_pages_browser*.py
	mkdir -p services/gateway/screenshots
	cp artifacts/browser/pages-*-1280.png artifacts/browser/pages-*-390.png services/gateway/screenshots/
	$(PY) tests/screenshots/capture_cli.py

venv: $(STAMP)
	@echo "the CLI needs no activate: $(VENV)/bin/tuneloop --help" \
	      "(or export PATH=\"$(abspath $(VENV))/bin:\$$PATH\" once per shell)"

# The llm extra (torch, transformers, peft, trl, accelerate, boto3) at requirements-llm.txt's
# pins: once per venv (again when the pins change). torch is large from the registry.
llm: $(LLM_STAMP)

$(LLM_STAMP): $(STAMP) requirements-llm.txt
	$(PY) -m pip install -q -r requirements-llm.txt -e "shared[llm]"
	$(PY) -c 'import torch, transformers, peft, trl, accelerate, boto3'
	@touch $@

$(STAMP): requirements-dev.txt services/gateway/requirements.txt services/worker/requirements.txt \
          shared/pyproject.toml services/gateway/pyproject.toml services/worker/pyproject.toml \
          services/devstack/pyproject.toml services/cli/requirements.txt services/cli/pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed, found " + sys.version.split()[0])'
	@$(BOOTSTRAP) python3-venv
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps $(PACKAGES)
	@touch $@

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
