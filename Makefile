# The two set-up commands of the README:
#   make demo   a demo migration of a generated archive (needs only Python)
#   make test   the whole suite: ruff, mypy, pytest with real peers
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint peers clean

demo: $(VENV)/.installed
	$(BIN)/pacsflow demo demo

test: $(VENV)/.installed-test peers lint
	$(BIN)/pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	touch $@

$(VENV)/.installed: $(VENV)/.created pyproject.toml
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.created pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

# The real DICOM peers the tests talk to, from Debian's packages, when root may
# install them; elsewhere install dcmtk and orthanc yourself.
peers:
	@if command -v storescp >/dev/null && command -v Orthanc >/dev/null; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing dcmtk and orthanc from Debian's packages"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends dcmtk orthanc >/dev/null; \
	else \
		echo "dcmtk and orthanc are missing: apt-get install dcmtk orthanc"; \
	fi

clean:
	rm -rf $(VENV) demo build dist .mypy_cache .ruff_cache .pytest_cache
