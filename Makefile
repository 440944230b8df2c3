# The two commands of the README: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test docs site-check clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/python examples/plot_adult_quickstart.py

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest
	$(MAKE) docs

# The docs site (Sphinx, examples gallery run on real data); warnings are errors.
docs: $(STAMP)
	$(VENV)/bin/sphinx-build -q -W --keep-going -b html docs docs/_build/html
	$(VENV)/bin/python docs/check_site.py docs/_build/html

# The built site in headless Chromium (needs selenium, chromium and its driver; not in CI).
site-check: docs
	$(VENV)/bin/python docs/check_site.py docs/_build/html --browser

clean:
	rm -rf $(VENV) build *.egg-info docs/_build docs/auto_examples docs/generated
