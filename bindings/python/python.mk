# Python package: `pip install .` whenever its sources (or the core's)
# change, so `make test` runs the Python tests against a fresh build.

PY_PKG_SRCS := setup.py pyproject.toml MANIFEST.in core/flags.mk LICENSE \
	$(wildcard bindings/python/*.py bindings/python/*.pth \
	bindings/python/src/*.c bindings/python/src/*.h \
	bindings/python/tunalloc/*.py bindings/python/tunalloc/*.pyi) \
	$(CORE_SRCS) $(CORE_HDRS)
PY_STAMP := $(BUILD)/python/installed.stamp

.PHONY: python-install bench-python

$(PY_STAMP): $(PY_PKG_SRCS)
	$(PYTHON) -m pip install -q .
	@mkdir -p $(dir $@)
	touch $@

# The other CPython versions the suite runs on (tests/python/test_pyversions.py)
# get the package too; tools/pythons.sh names them ("3.12:/path/python").
PY_OTHERS := $(shell PYTHON=$(PYTHON) bash tools/pythons.sh --others 2>/dev/null)
PY_OTHER_STAMPS := $(foreach p,$(PY_OTHERS),$(BUILD)/python/installed-$(firstword $(subst :, ,$(p))).stamp)

$(BUILD)/python/installed-%.stamp: $(PY_PKG_SRCS)
	$(word 2,$(subst :, ,$(filter $*:%,$(PY_OTHERS)))) -m pip install -q .
	@mkdir -p $(dir $@)
	touch $@

python-install: $(PY_STAMP) $(PY_OTHER_STAMPS)

test-build: $(PY_STAMP) $(PY_OTHER_STAMPS)

# Python allocator benchmark (not a test): writes bench/results/python.md
# and bench/results/python.json.
bench-python: $(PY_STAMP)
	$(PYTHON) bench/python/run.py --out bench/results/python
