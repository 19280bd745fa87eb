# The two commands a newcomer types: `make report` and `make test`. Both create .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test report docs clean

venv: $(STAMP)

# torch comes first and pinned, so nothing later can pull a CUDA build; crypten without its
# metadata's dependencies (sklearn, torchvision), then what it really imports, then privmoe.
$(STAMP): pyproject.toml Makefile
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet --no-deps crypten==0.4.1
	$(BIN)/pip install --quiet numpy onnx omegaconf pyyaml tenseal hypothesis pandas matplotlib \
	    tabulate rich pytest pytest-timeout mkdocs mkdocs-material "mkdocstrings[python]"
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/python -c "import torch; assert torch.__version__.startswith('2.13.0') and not torch.version.cuda, torch.__version__"
	touch $(STAMP)

test: venv
	$(BIN)/python -m pytest -q
	$(MAKE) docs

# the docs' worked examples are `privmoe explain` runs made while building; --strict fails on any warning
docs: venv
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet -d build/site

report: venv
	$(BIN)/privmoe report --out report

clean:
	rm -rf $(VENV) report
