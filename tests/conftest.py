"""Shared fixtures: the generated fixture municipality, one migration of it, the CLI runner and
the real public data in ../shared/realdata (tests that need it skip with a reason if absent)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest
from click.testing import CliRunner

from ikou.cli import cli
from ikou.fixtures.generator import generate

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "mappings" / "sakuragaoka_991015.yaml"
# messages in English unless a test asks for Japanese (the suite must not depend on the machine's
# locale; subprocesses inherit it); a test's --lang ja is undone after it by the fixture below
os.environ["IKOU_LANG"] = "en"


@pytest.fixture(autouse=True)
def _english_messages(monkeypatch):
    monkeypatch.setenv("IKOU_LANG", "en")


REALDATA = Path(os.environ.get("IKOU_REALDATA", ROOT.parent / "shared" / "realdata"))
STANDARD = Path(os.environ.get("IKOU_STANDARD", ROOT.parent / "shared" / "standard"))

# CI (.ci/run) sets IKOU_REQUIRE_REALDATA=1: there the shared folders must be present, and a test
# that needs them fails instead of skipping
if os.environ.get("IKOU_REQUIRE_REALDATA") == "1":
    for _folder in (REALDATA, STANDARD):
        if not _folder.is_dir():
            raise RuntimeError(f"IKOU_REQUIRE_REALDATA=1 but {_folder} is not present")

needs_realdata = pytest.mark.skipif(not REALDATA.is_dir(), reason=f"real data folder {REALDATA} not present")
needs_standard = pytest.mark.skipif(not STANDARD.is_dir(), reason=f"standard folder {STANDARD} not present")


def run_cli(*args: str, fault=None, quiet: bool = True):
    """Invoke the CLI in-process; returns click's Result (exit_code, output: standard output and
    error interleaved). ``fault``: the run's fault injection (RunOptions.fault), handed in as the
    CLI's context object. ``quiet``: without progress lines (tests/test_progress.py has them)."""
    obj = {"fault": fault} if fault is not None else None
    return CliRunner().invoke(cli, [*(["--quiet"] if quiet else []), *(str(a) for a in args)],
                              catch_exceptions=False, obj=obj)


@pytest.fixture(scope="session")
def export_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export")
    generate(out, residents=5000)
    return out


@pytest.fixture(scope="session")
def migrated(export_dir, tmp_path_factory) -> tuple[Path, object]:
    """One migration of the fixture export: (OUT folder, click result)."""
    out = tmp_path_factory.mktemp("out")
    result = run_cli("migrate", "--mapping", MAPPING, "--input", export_dir, "--out", out)
    return out, result


@pytest.fixture(scope="session")
def exact_mapping(tmp_path_factory) -> Path:
    """MAPPING with exact dedup, for the end-to-end tests that are not about probable duplicates."""
    return copy_mapping(tmp_path_factory.mktemp("exact-mapping"))


VENDOR_MAPPINGS = {"sakura": "sakuragaoka_991015.yaml", "midori": "midori_991023.yaml",
                   "wakaba": "wakaba_991031.yaml", "yamabiko": "yamabiko_991040.yaml"}


@pytest.fixture(scope="session", params=list(VENDOR_MAPPINGS))
def vendor_run(request, migrated, export_dir, tmp_path_factory):
    """(OUT, export folder) of a migrated fixture vendor: CSV, fixed-width, XML and JEF mainframe."""
    if request.param == "sakura":
        return migrated[0], export_dir
    from ikou.fixtures.vendors import generate_fixed, generate_jef, generate_xml
    folder = tmp_path_factory.mktemp(request.param)
    {"midori": generate_fixed, "wakaba": generate_xml, "yamabiko": generate_jef}[request.param](folder)
    out = tmp_path_factory.mktemp(f"{request.param}-out")
    result = run_cli("migrate", "--mapping", ROOT / "mappings" / VENDOR_MAPPINGS[request.param], "--input", folder,
                     "--out", out)
    assert result.exit_code == 0, result.output
    return out, folder


def query(out: Path, sql: str) -> pl.DataFrame:
    con = duckdb.connect(str(out / "ikou.duckdb"), read_only=True)
    try:
        return con.sql(sql).pl()
    finally:
        con.close()


def copy_mapping(tmp_path: Path, dedup: str = "exact", **replace: str) -> Path:
    """The fixture municipality's mapping with ``replace``'s substitutions, written to tmp_path.
    Exact dedup unless ``dedup="probabilistic"``: splink doubles a small run's time, and only the
    dedup tests are about it."""
    text = MAPPING.read_text(encoding="utf-8")
    if dedup == "exact":
        text = text.replace("method: probabilistic", "method: exact")
    for old, new in replace.items():
        text = text.replace(old, new)
    path = tmp_path / "mapping.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def write_export(folder: Path, name: str, text: str, encoding: str = "cp932") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def clone_export(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst
