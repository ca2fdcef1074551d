# Two commands on a fresh machine with Python 3.11+:  make demo  |  make test
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
IKOU   := $(VENV)/bin/ikou
STAMP  := $(VENV)/.installed

BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed

.PHONY: demo test browser cobol bench generated fuzz clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

## make demo: set up, generate the fictional 自治体クラウド group (three municipalities, three vendors,
## resident and 個人住民税 exports) and a mainframe municipality, migrate them into out/demo, report
## (the steps are `ikou demo`'s, ikou/cli_demo.py: the same without make, e.g. on Windows)
demo: $(STAMP)
	$(IKOU) demo --out out

## make test: set up (Chromium for the report's browser test and GnuCOBOL for the COBOL oracle included)
## and run the whole test suite
test: $(STAMP) browser cobol
	$(PY) -m pytest -q

# $(call debian_package,PACKAGE,COMMANDS,PURPOSE): install a Debian package unless one of COMMANDS is
# on PATH (as root, or with password-less sudo); without apt-get or when it fails, say what will skip
define debian_package
	@for c in $(2); do command -v $$c >/dev/null 2>&1 && exit 0; done; \
	SUDO=$$( [ "$$(id -u)" = 0 ] && echo "" || echo "sudo -n" ); \
	if command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's $(1) for $(3) …"; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    --no-install-recommends $(1) >/dev/null || echo "could not install $(1): $(3) will skip"; \
	else echo "no apt-get: install $(1) yourself, or $(3) will skip"; fi
endef

## Debian's Chromium for the HTML report's browser test
browser:
	$(call debian_package,chromium,chromium chromium-browser,the browser test)

## Debian's GnuCOBOL: tests/cobol's programs write the exports (and their expected values) the
## fixed-width readers are checked against
cobol:
	$(call debian_package,gnucobol,cobc,the COBOL oracle tests)

# the benchmark measures ikou as a user installs it: without the test extras (great-expectations
# brings pandas, which pandera then imports on every run: ~1 s of start-up)
$(BENCH_STAMP): pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e .
	touch $(BENCH_STAMP)

## make bench: 1,000,000 residents, migrate vs the decode+read+write floor (not a test), in a core install
bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python bench/bench_migrate.py --residents 1000000

## make generated: rebuild the generated files (resident layout from ../shared/standard, JSON Schemas, docs/reasons.md,
## the gettext catalogue of click's own texts in Japanese)
generated: $(STAMP)
	$(PY) scripts/build_resident_layout.py
	$(PY) scripts/build_click_catalog.py
	$(PY) scripts/build_municipality_sizes.py
	for kind in mapping layout group; do $(IKOU) mapping schema --kind $$kind > docs/schema/$$kind.schema.json; done
	$(IKOU) reasons --format markdown > docs/reasons.md

## make fuzz: the hostile-input harness at length: mutated exports of every fixture vendor through the
## whole CLI (FUZZ_EXAMPLES a vendor, 4 vendors: 10,000 exports, about 2 hours on 2 cores) and kill -9 at
## KILL_POINTS random moments of a run; the counts per format and exit code are printed at the end
FUZZ_EXAMPLES ?= 2500
KILL_POINTS ?= 100
FUZZ_LOG ?= out/fuzz.jsonl
fuzz: $(STAMP)
	mkdir -p $(dir $(FUZZ_LOG)) && rm -f $(FUZZ_LOG)
	IKOU_FUZZ_LOG=$(abspath $(FUZZ_LOG)) IKOU_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) IKOU_KILL_POINTS=$(KILL_POINTS) \
		$(PY) -m pytest -q tests/test_cli_fuzz.py tests/test_kill.py
	$(PY) scripts/fuzz_summary.py $(FUZZ_LOG)

clean:
	rm -rf out build .pytest_cache $(BENCH_VENV)
