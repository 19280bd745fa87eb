# The two commands a newcomer types: `make report` and `make test`. Both create .venv first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test test-deep mutants report docs clean

venv: $(STAMP)

# torch comes first and pinned, so nothing later can pull a CUDA build; then what crypten really
# imports; then crypten without its metadata's dependencies (sklearn, torchvision), and privmoe, both
# --no-deps. crypten comes after every install that resolves dependencies: pip checks the installed
# packages that depend on what it installs, and would print an ERROR for crypten's unmet metadata.
$(STAMP): pyproject.toml Makefile
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet numpy onnx omegaconf pyyaml tenseal hypothesis pandas matplotlib \
	    tabulate rich pytest pytest-timeout pytest-xdist mkdocs mkdocs-material "mkdocstrings[python]" zstandard scipy
	$(BIN)/pip install --quiet --no-deps crypten==0.4.1
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/python -c "import torch; assert torch.__version__.startswith('2.13.0') and not torch.version.cuda, torch.__version__"
	touch $(STAMP)

# Hypothesis draws PRIVMOE_EXAMPLES (default 25) examples per property, seeded from the commit
# (tests/conftest.py prints the seed); two workers, one per core
test: venv
	$(BIN)/python -m pytest -q -n 2 --durations=12
	$(MAKE) docs

# 200 examples per property (not in CI; its run time is in the README). One property over 200 SEAL
# examples (nexus.matmul) runs past the suite's 300 s per-test timeout: an hour per test here.
test-deep: venv
	PRIVMOE_EXAMPLES=200 $(BIN)/python -m pytest -q -n 2 --timeout=3600

# each curated mutant (tests/mutants/catalogue.toml) on a scratch copy; fails on any survivor (docs/mutants.md;
# not in CI: 5-8 min on 2 cores). ARGS passes options, e.g. ARGS="--only capacity-ceil"
mutants: venv
	$(BIN)/python tests/mutants/run.py $(ARGS)

# the docs' worked examples are `privmoe explain` runs made while building; --strict fails on any warning
docs: venv
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet -d build/site

report: venv
	$(BIN)/privmoe report --out report

clean:
	rm -rf $(VENV) report
