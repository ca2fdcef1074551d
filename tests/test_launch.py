"""The `ikou` entry point sets the allocators up before polars loads (ikou/launch.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from ikou.launch import GLIBC, JEMALLOC, glibc_mallopt, set_up_allocators

ROOT = Path(__file__).resolve().parents[1]


def run_python(code: str) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter whose environment sets no allocator variable."""
    env = {k: v for k, v in os.environ.items() if k != JEMALLOC[0] and not k.startswith("MALLOC_")}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def test_the_command_and_python_dash_m_start_in_launch():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts["ikou"] == "ikou.launch:main"
    assert "from ikou.launch import main" in (ROOT / "ikou" / "__main__.py").read_text(encoding="utf-8")


def test_launch_loads_nothing_heavy_before_the_allocators_are_set():
    done = run_python("import sys, ikou.launch; print(sorted(m for m in ('polars', 'duckdb', 'pyarrow', 'ikou.cli')"
                      " if m in sys.modules))")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_polars_allocator_reads_the_value_launch_sets():
    # jemalloc prints its statistics at exit when its configuration, read as polars loads, says so:
    # they appear only if launch set the variable before `ikou.cli` imported polars
    done = run_python("import sys; sys.argv = ['ikou', '--version']\n"
                      "from ikou.launch import main\nmain(jemalloc='stats_print:true')")
    assert "ikou, version" in done.stdout
    assert "Begin jemalloc statistics" in done.stderr


def test_a_value_the_user_set_wins_and_glibc_settings_skip_the_ones_set():
    calls = []

    def recorder(param, value):
        calls.append((param, value))
        return 1

    environ = {"_RJEM_MALLOC_CONF": "dirty_decay_ms:0", "MALLOC_TOP_PAD_": "131072"}
    applied = set_up_allocators(environ, recorder)
    assert environ["_RJEM_MALLOC_CONF"] == "dirty_decay_ms:0"
    assert applied == ["MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"]
    assert [p for p, _ in calls] == [-1, -3]
    environ = {}
    assert set_up_allocators(environ, recorder) == [JEMALLOC[0], *(variable for _, variable, _ in GLIBC)]
    assert environ == {JEMALLOC[0]: JEMALLOC[1]}


def test_glibc_accepts_every_setting_where_it_is_the_c_library():
    mallopt = glibc_mallopt()
    if sys.platform.startswith("linux"):
        assert mallopt is not None  # the CI machine's C library is glibc
        # mallopt answers 1 for a value it took, 0 for one out of range (an int too large, 64 MB mmap)
        assert [mallopt(param, value) for param, _, value in GLIBC] == [1, 1, 1]
    else:
        assert mallopt is None
