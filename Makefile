# The two commands of the README:
#   make lab    set everything up, open JupyterLab on the quick-start notebook
#   make test   set everything up (test tools and chromium too), run the whole suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: lab test setup chromium postgresql lint demo bench clean

$(STAMP): pyproject.toml labextension/package.json
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

# Extra options pass through: make lab ARGS=--port=8899. Root (containers, CI boxes) gets
# --allow-root, which jupyter refuses to run without.
ARGS ?=
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)

lab: setup
	cd example_notebooks && ../$(VENV)/bin/jupyter lab quickstart.ipynb $(ROOT_FLAG) $(ARGS)

demo: setup
	$(VENV)/bin/mlops-jupyter demo

# Debian's chromium for the Playwright browser tests (no browser download at run time).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Debian's PostgreSQL for the team-store tests: they start a throw-away server themselves
# (initdb in a temporary folder as the unprivileged postgres user, a local port) and stop it.
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq postgresql >/dev/null; }

lint: setup
	$(VENV)/bin/ruff check mlops_jupyter tests bench
	$(VENV)/bin/mypy

test: setup chromium postgresql lint
	$(VENV)/bin/pytest

bench: setup
	for b in bench/*.py; do case $$b in bench/_*) ;; *) $(PY) $$b || exit 1;; esac; done

clean:
	rm -rf $(VENV) labextension/node_modules labextension/lib mlops_jupyter/labextension
