"""Corrupted exports through the whole CLI, for every bundled format (CSV, fixed-width, XML, JEF
mainframe): whatever the bytes, `ikou migrate` answers with a documented exit code (0, 1 or 2,
never 3 = internal error or an escaping exception), and when it gets as far as a summary, every
source record is accounted for (the run's own reconciliation check passes)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ikou.cli import cli
from ikou.fixtures.generator import generate
from ikou.fixtures.vendors import generate_fixed, generate_jef, generate_xml

from .conftest import ROOT

VENDORS = {
    "sakura": (generate, "sakuragaoka_991015.yaml"),
    "midori": (generate_fixed, "midori_991023.yaml"),
    "wakaba": (generate_xml, "wakaba_991031.yaml"),
    "yamabiko": (generate_jef, "yamabiko_991040.yaml"),
}


@pytest.fixture(scope="module", params=sorted(VENDORS))
def small_export(request, tmp_path_factory) -> tuple[Path, Path]:
    make, mapping = VENDORS[request.param]
    folder = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    make(folder, residents=40, seed=1, defects=False)  # corruption is the defect here
    return folder, ROOT / "mappings" / mapping


# an edit: (where in the file, as a fraction of its length; bytes that replace what is there)
edits = st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=6)), min_size=1, max_size=6)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=edits, cut=st.one_of(st.none(), st.floats(0, 1)))
def test_corrupted_export_gets_a_documented_answer(small_export, tmp_path_factory, edits, cut):
    folder, mapping = small_export
    work = tmp_path_factory.mktemp("corrupt")
    shutil.copytree(folder, work, dirs_exist_ok=True)
    target = max((p for p in work.rglob("*") if p.is_file() and p.name != "expected.csv"),
                 key=lambda p: p.stat().st_size)
    data = bytearray(target.read_bytes())
    for where, new in edits:
        at = int(where * max(len(data) - 1, 0))
        data[at:at + len(new)] = new
    if cut is not None:
        data = data[:int(cut * len(data))]
    target.write_bytes(bytes(data))

    result = CliRunner().invoke(cli, ["migrate", "--mapping", str(mapping), "--input", str(work),
                                      "--dry-run", "--json"], catch_exceptions=True)
    escaped = result.exception if not isinstance(result.exception, SystemExit) else None
    assert escaped is None, f"{type(escaped).__name__}: {escaped}"
    assert result.exit_code in (0, 1, 2), result.output
    if result.exit_code in (0, 1):
        summary = json.loads(result.output)
        assert summary["reconciled"], summary["reconciliation_problems"]
    else:
        assert result.output.strip(), "a refusal says why"
