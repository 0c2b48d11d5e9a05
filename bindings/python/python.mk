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

python-install: $(PY_STAMP)

test-build: $(PY_STAMP)

# Python allocator benchmark (not a test): writes bench/results/python.md
# and bench/results/python.json.
bench-python: $(PY_STAMP)
	$(PYTHON) bench/python/run.py --out bench/results/python
