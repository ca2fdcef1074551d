"""Hostile files, hostile environments, kills and leaks (issue 16): each case a named test that
failed on the code before it, run through the CLI as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ikou.fixtures.generator import generate

from .conftest import copy_mapping, query, run_cli


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, Path]:
    """(export folder, exact-dedup mapping) of 1,000 residents."""
    d = tmp_path_factory.mktemp("hostile")
    generate(d / "in", residents=1000, seed=11)
    return d / "in", copy_mapping(d)


def _migrate_json(mapping: Path, export: Path, env: dict[str, str]) -> dict:
    result = subprocess.run([sys.executable, "-m", "ikou", "migrate", "--mapping", str(mapping), "--input", str(export),
                             "--dry-run", "--json"], capture_output=True, text=True, env={**os.environ, **env})
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout)


def test_pandera_environment_variables_do_not_switch_validation_off(small):
    """pandera reads PANDERA_VALIDATION_ENABLED / _DEPTH from the environment; ikou's checks are
    part of the migration: the same rejects whatever they say."""
    export, mapping = small
    plain = _migrate_json(mapping, export, {})
    assert plain["rejects_by_reason"].get("check_digit")
    for env in ({"PANDERA_VALIDATION_ENABLED": "False"}, {"PANDERA_VALIDATION_DEPTH": "SCHEMA_ONLY"}):
        assert _migrate_json(mapping, export, env)["rejects_by_reason"] == plain["rejects_by_reason"], env


def test_the_debug_folder_of_a_dry_run_is_not_written_to_the_current_directory(small, tmp_path, monkeypatch,
                                                                              caplog):
    """--dry-run --debug once wrote every stage's values into ./ikou-debug-<run>/."""
    import shutil

    export, mapping = small
    monkeypatch.chdir(tmp_path)
    with caplog.at_level("WARNING", logger="ikou"):
        result = run_cli("--debug", "migrate", "--mapping", mapping, "--input", export, "--dry-run")
    assert result.exit_code in (0, 1), result.output
    assert not list(tmp_path.iterdir())
    kept = [Path(r.getMessage().split(" kept in ")[1].split(": ")[0]) for r in caplog.records
            if "stage outputs kept in" in r.getMessage()]
    assert len(kept) == 1
    try:
        assert (kept[0] / "PERSONAL_DATA.txt").exists() and kept[0].stat().st_mode & 0o077 == 0
        assert (kept[0] / "01_map_to_layout").is_dir()
    finally:
        shutil.rmtree(kept[0], ignore_errors=True)


@pytest.mark.parametrize("spelling", ["6808-3137-7136", "6809 1057 1061", "6813\u30008573\u30004643",
                                      "６８０８３１３７７１３６"])
def test_a_personal_number_with_separators_is_masked_in_the_report_tables(small, tmp_path, spelling):
    """A reject's raw record shows 個人番号 written with hyphens, spaces, ideographic spaces or
    full-width digits masked in the csv detail table, as unbroken runs always were."""
    import shutil

    export, mapping = small
    shutil.copytree(export, tmp_path / "in")
    path = next((tmp_path / "in").glob("JUMIN_*.csv"))
    path.write_bytes(path.read_bytes() + f"9999,{spelling}\r\n".encode("cp932"))  # a field_count reject
    out = tmp_path / "out"
    assert run_cli("migrate", "--mapping", mapping, "--input", tmp_path / "in", "--out", out).exit_code in (0, 1)
    assert query(out, "select count(*) n from rejects where reason_code = 'field_count'")["n"][0] >= 1
    assert run_cli("report", out, "--format", "csv", "--output", tmp_path / "csv").exit_code in (0, 1)
    rejects = (tmp_path / "csv" / "rejects.csv").read_text(encoding="utf-8-sig")
    assert "9999," in rejects and spelling not in rejects and spelling[:4] not in rejects
    assert spelling[-4:] in rejects


def test_masking_catches_every_spelling_in_python_polars_and_duckdb():
    """One pattern, three engines: the same masked text."""
    import duckdb
    import polars as pl

    from ikou.masking import mask_number_like, mask_number_like_expr, mask_number_like_sql

    for text in ("6808-3137-7136", "6809 1057 1061", "6813\u30008573\u30004643", "６８０８３１３７７１３６",
                 "x680831377136y", "raw 0000680831377136000 tail"):
        py = mask_number_like(text)
        assert py == pl.select(mask_number_like_expr(pl.lit(text))).item()
        literal = "'" + text + "'"
        assert py == duckdb.sql(f"select {mask_number_like_sql(literal)}").fetchall()[0][0]
        assert sum(c.isdigit() for c in py) == 4, py
    for kept in ("03-1234-5678", "2025-06-30", "1234567890"):  # phone numbers, dates, 宛名番号 stay readable
        assert mask_number_like(kept) == kept
    # a run id's time has twelve digits: a message naming a run stays usable, a number beside it does not
    run = "20261202T032537418891Z-991015-7af86ecb"
    assert mask_number_like(f"run {run}: 680831377136") == f"run {run}: ********7136"
    assert mask_number_like(f"{run}1") != f"{run}1"  # not a run id: masked


def test_inspect_masks_personal_numbers(small, tmp_path):
    """inspect shows records: their 個人番号 masked, in CSV (per column) and fixed-width (raw line)."""
    import csv
    import io
    import re

    from ikou.fixtures.vendors import generate_fixed

    export, _ = small
    path = next(export.glob("JUMIN_*.csv"))
    rows = list(csv.DictReader(io.StringIO(path.read_bytes()[:200_000].decode("cp932", "replace").split("\n", 2)[2])))
    numbers = [r["個人番号"] for r in rows[:5] if r.get("個人番号")]
    text = run_cli("inspect", path).output
    assert numbers and "********" in text and not any(n in text for n in numbers)
    generate_fixed(tmp_path / "fx", residents=1000, seed=2)
    fixed = run_cli("inspect", next((tmp_path / "fx").iterdir())).output
    assert "record 1" in fixed and not re.search("[0-9]{12}", fixed)


def test_a_kill_before_the_summary_leaves_summary_json_of_the_committed_run(small, tmp_path):
    export, mapping = small
    out = tmp_path / "out"
    assert run_cli("migrate", "--mapping", mapping, "--input", export, "--out", out).exit_code in (0, 1)

    def die(point, value):
        if point == "summary":
            raise KeyboardInterrupt
        return value

    assert run_cli("migrate", "--mapping", mapping, "--input", export, "--out", out, fault=die).exit_code == 130
    # any next command finishes it: the report reads OUT and sees one state
    assert run_cli("report", out, "--format", "json").exit_code in (0, 1)
    latest = query(out, "select run_id from runs order by finished_at desc limit 1")["run_id"][0]
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["run_id"] == latest


# -- paths a mapping names stay inside its project, export files inside --input -------------------

def _mapping_with(tmp_path: Path, extra: str = "", **replace: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / ".ikou-root").write_text("", encoding="utf-8")  # the mapping's project: tmp_path
    mapping = copy_mapping(tmp_path, **replace)
    if extra:
        mapping.write_text(mapping.read_text(encoding="utf-8") + extra, encoding="utf-8")
    return mapping


@pytest.mark.parametrize("table", ["../../../../../etc/passwd", "/etc/shadow"])
def test_a_gaiji_table_outside_the_project_is_refused_unread(small, tmp_path, table):
    export, _ = small
    mapping = _mapping_with(tmp_path / "proj", f"\ngaiji:\n  table: {table}\n")
    result = run_cli("migrate", "--mapping", mapping, "--input", export, "--dry-run")
    assert result.exit_code == 2 and "gaiji.table" in result.output and "lies outside" in result.output
    assert "--allow-path" in result.output


@pytest.mark.parametrize("glob", ["../../**/JUMIN_*.csv", "/tmp/**/JUMIN_*.csv"])
def test_a_files_glob_never_leaves_input(small, tmp_path, glob):
    export, _ = small
    mapping = _mapping_with(tmp_path / "proj", **{'files: "JUMIN_*.csv"': f'files: "{glob}"'})
    result = run_cli("migrate", "--mapping", mapping, "--input", export, "--out", tmp_path / "out")
    assert result.exit_code == 2 and ".files:" in result.output and not (tmp_path / "out").exists()


def test_a_link_in_input_pointing_outside_is_refused(small, tmp_path):
    export, mapping = small
    (tmp_path / "in").mkdir()
    target = next(export.glob("JUMIN_*.csv"))
    (tmp_path / "in" / target.name).symlink_to(target)
    result = run_cli("migrate", "--mapping", mapping, "--input", tmp_path / "in", "--out", tmp_path / "out")
    assert result.exit_code == 2 and "is a link to" in result.output and "outside --input" in result.output
    # allowed explicitly, it is read
    allowed = run_cli("--allow-path", export, "migrate", "--mapping", mapping, "--input", tmp_path / "in",
                      "--dry-run")
    os.environ.pop("IKOU_ALLOW_PATH", None)
    assert allowed.exit_code in (0, 1), allowed.output


def test_decisions_outside_the_project_or_not_a_csv_exit_two(small, tmp_path):
    """`decisions: /etc/passwd` was read by polars and ended in an internal error (exit 3)."""
    export, _ = small
    mapping = _mapping_with(tmp_path / "a", dedup="probabilistic",
                            **{"decisions: review_decisions_991015.csv": "decisions: /etc/passwd"})
    result = run_cli("migrate", "--mapping", mapping, "--input", export, "--dry-run")
    assert result.exit_code == 2 and "dedup.decisions" in result.output
    inside = _mapping_with(tmp_path / "b", dedup="probabilistic",
                           **{"decisions: review_decisions_991015.csv": "decisions: broken.csv"})
    (tmp_path / "b" / "broken.csv").write_bytes(b'pair_key,decision\n"unclosed,x\n\x00\x01')
    result = run_cli("migrate", "--mapping", inside, "--input", export, "--dry-run")
    assert result.exit_code == 2 and "decisions file" in result.output, result.output


# -- the environment at fault: exit 2, naming the path ------------------------------------------

def test_out_that_is_a_file_or_under_a_file_exits_two(small, tmp_path):
    export, mapping = small
    (tmp_path / "afile").write_text("x", encoding="utf-8")
    for out in (tmp_path / "afile", tmp_path / "afile" / "out"):
        result = run_cli("migrate", "--mapping", mapping, "--input", export, "--out", out)
        assert result.exit_code == 2 and "afile" in result.output, result.output


def test_out_whose_duckdb_is_not_a_duckdb_file_exits_two(small, tmp_path):
    export, mapping = small
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "ikou.duckdb").write_bytes(b"this is not a database\n" * 100)
    result = run_cli("migrate", "--mapping", mapping, "--input", export, "--out", tmp_path / "out")
    assert result.exit_code == 2 and "not a DuckDB" in result.output, result.output
    assert run_cli("report", tmp_path / "out").exit_code == 2


def test_a_full_disk_while_landing_exits_two_and_keeps_the_previous_state(small, tmp_path):
    export, mapping = small
    out = tmp_path / "out"

    def full(point, value):
        if point == "load":
            raise OSError(28, "No space left on device", str(out / "ikou.duckdb.wal"))
        return value

    result = run_cli("migrate", "--mapping", mapping, "--input", export, "--out", out, fault=full)
    assert result.exit_code == 2 and "disk is full" in result.output and "ikou.duckdb.wal" in result.output
    # a failed first run leaves no database behind
    assert not (out / "ikou.duckdb").exists() and not (out / "ikou.duckdb.wal").exists()


# -- the report counts again from what OUT holds ---------------------------------------------

@pytest.fixture()
def landed(small, tmp_path) -> Path:
    export, mapping = small
    out = tmp_path / "out"
    assert run_cli("migrate", "--mapping", mapping, "--input", export, "--out", out).exit_code in (0, 1)
    assert run_cli("report", out).exit_code == 0
    return out


def _tamper(out: Path, sql: str) -> None:
    import duckdb
    con = duckdb.connect(str(out / "ikou.duckdb"))
    try:
        con.execute(sql)
    finally:
        con.close()


@pytest.mark.parametrize("sql, said", [
    ("delete from resident where rowid = (select min(rowid) from resident)", "tables in ikou.duckdb hold"),
    ("insert into rejects select * from rejects limit 1", "OUT now holds"),
    ("update lineage set fate = 'merged' where rowid = (select min(rowid) from lineage where fate = 'landed')",
     "OUT now holds"),
], ids=["landed-row-deleted", "reject-added", "fate-changed"])
def test_the_report_does_not_take_the_runs_word_for_it(landed, sql, said):
    """The report once copied each file's counts from the run's own summary: data changed in OUT
    afterwards was reported as reconciled."""
    _tamper(landed, sql)
    result = run_cli("report", landed, "--format", "json")
    assert result.exit_code == 3, result.output
    problems = json.loads(result.output)["municipalities"][0]["reconciliation_problems"]
    assert any(said in p for p in problems), problems


def test_a_parquet_partition_changed_after_the_run_is_found(landed):
    import polars as pl
    part = next((landed / "parquet" / "resident").glob("municipality_code=*/*.parquet"))
    pl.read_parquet(part).head(10).write_parquet(part)
    result = run_cli("report", landed, "--format", "json")
    assert result.exit_code == 3
    problems = json.loads(result.output)["municipalities"][0]["reconciliation_problems"]
    assert any("Parquet partitions hold 10 rows" in p for p in problems)


def test_a_read_only_out_is_read_without_its_lock(landed):
    """A report on a read-only OUT (an archived copy) once failed creating OUT/.ikou.lock."""
    from ikou.reconciliation.model import reading
    (landed / ".ikou.lock").unlink()
    with reading(landed, writable=False) as con:
        assert con.execute("select count(*) from runs").fetchall()[0][0] == 1
    assert not (landed / ".ikou.lock").exists()


# -- found by reading the code -------------------------------------------------------------------

def _registry(tmp_path: Path, rows: str, pattern: str = "^[0-9]+$") -> tuple[Path, Path]:
    (tmp_path / "reg.yaml").write_text(f"""\
layout: registry
name_ja: 台帳
version: "1"
tables:
  registry:
    name_ja: 台帳
    row_key: [code]
    items:
      - {{id: municipality_code, name_ja: 市区町村コード, type: string, required: true}}
      - {{id: code, name_ja: 番号, type: string, checks: [{{pattern: '{pattern}', level: alert}}]}}
      - {{id: name, name_ja: 名称, type: string, required: true}}
""", encoding="utf-8")
    (tmp_path / "m.yaml").write_text("""\
municipality: {code: "372013"}
layout: reg.yaml
sources:
  - {name: r, table: registry, files: "*.csv", encoding: utf-8,
     items: {municipality_code: {value: "372013"}, code: 番号, name: 名称}}
""", encoding="utf-8")
    (tmp_path / "in").mkdir(exist_ok=True)
    (tmp_path / "in" / "r.csv").write_text("番号,名称\n" + rows, encoding="utf-8")
    return tmp_path / "m.yaml", tmp_path / "in"


def test_a_blank_or_repeated_row_key_still_traces_every_landed_row(tmp_path):
    """A blank row_key item landed lineage.target_key NULL; a repeated one named two rows alike."""
    mapping, export = _registry(tmp_path, "1,甲\n,乙\n,丙\n2,丁\n2,戊\n")
    out = tmp_path / "out"
    result = run_cli("migrate", "--mapping", mapping, "--input", export, "--out", out, "--json")
    assert result.exit_code == 0, result.output
    keys = query(out, "select target_key from lineage order by source_line")["target_key"].to_list()
    assert None not in keys and len(set(keys)) == 5 and keys[0] == "code=1"
    assert any("row key (code)" in n and "blank (2)" in n for n in json.loads(result.output)["notes"])


def test_a_look_around_pattern_is_refused_at_load(tmp_path):
    """A pattern polars cannot run passed the load check and ended the run after extraction (exit 3)."""
    mapping, export = _registry(tmp_path, "1,甲\n", pattern="^(?!0)[0-9]+$")
    result = run_cli("migrate", "--mapping", mapping, "--input", export, "--dry-run")
    assert result.exit_code == 2 and "look-around" in result.output, result.output


def test_a_run_that_lands_nothing_exits_one_without_thresholds(tmp_path):
    """Every record rejected, no threshold in the mapping: exit 0 once, and a CI job passed."""
    mapping, export = _registry(tmp_path, "1,\n2,\n")  # 名称 is required: both rejected
    result = run_cli("migrate", "--mapping", mapping, "--input", export, "--dry-run", "--json")
    summary = json.loads(result.output)
    assert summary["totals"]["landed"] == 0 and result.exit_code == 1
    assert any("no record landed" in f for f in summary["file_findings"])


def test_new_review_decisions_make_another_run(small, tmp_path):
    """The run id ignored the decisions file: new decisions reran as 'the same inputs'."""
    import datetime as dt
    import shutil

    from ikou.mapping import load_mapping
    from ikou.pipeline.check import find_source_files, make_run_id

    export, _ = small
    mapping = _mapping_with(tmp_path / "p", dedup="probabilistic")
    (tmp_path / "p" / "review_decisions_991015.csv").write_text("pair_key,decision\n", encoding="utf-8")
    when = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    m = load_mapping(mapping)
    files = find_source_files(m, export, 1 << 20)
    before = make_run_id(when, m, files)
    (tmp_path / "p" / "review_decisions_991015.csv").write_text("pair_key,decision\n1~2,same\n", encoding="utf-8")
    assert make_run_id(when, m, files) != before
    shutil.rmtree(tmp_path / "p")


def test_malformed_xml_leaves_an_out_that_did_not_exist_uncreated(tmp_path):
    """Malformed XML (found while streaming) exited 2 but had created OUT with a lock file and an
    empty .staging/."""
    from ikou.fixtures.vendors import generate_xml

    from .conftest import ROOT

    generate_xml(tmp_path / "in", residents=1000, seed=3)
    path = next((tmp_path / "in").glob("*.xml"))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3] + b"<broken></unclosed>")
    out = tmp_path / "new-out"
    result = run_cli("migrate", "--mapping", ROOT / "mappings" / "wakaba_991031.yaml", "--input", tmp_path / "in",
                     "--out", out)
    assert result.exit_code == 2, result.output
    assert not out.exists()


def test_no_output_meant_for_people_shows_a_personal_number(migrated, export_dir, tmp_path):
    """The masking scan: every 個人番号 of the fixture export (ground truth, from its column), in
    plain, hyphenated and full-width spelling, against everything a person reads of a run: the
    report in every format (the xlsx unzipped), summary.json, the review queue, JUnit, inspect."""
    import csv
    import io
    import zipfile

    out, result = migrated
    text = next(export_dir.glob("JUMIN_*.csv")).read_bytes().decode("cp932", "replace")
    rows = list(csv.reader(io.StringIO(text.split("\n", 2)[2])))
    k = rows[0].index("個人番号")
    numbers = {r[k] for r in rows[1:] if len(r) > k and len(r[k]) == 12 and r[k].isdigit()}
    assert len(numbers) > 1000
    spellings = {s for n in numbers for s in (n, f"{n[:4]}-{n[4:8]}-{n[8:]}",
                                              n.translate(str.maketrans("0123456789", "０１２３４５６７８９")))}
    shown = [result.output, (out / "summary.json").read_text(encoding="utf-8")]
    for fmt in ("text", "json"):
        r = run_cli("report", out, "--format", fmt)
        assert r.exit_code in (0, 1), r.output
        shown.append(r.output)
    assert run_cli("report", out, "--format", "html", "--output", tmp_path / "r.html").exit_code in (0, 1)
    shown.append((tmp_path / "r.html").read_text(encoding="utf-8"))
    assert run_cli("report", out, "--format", "csv", "--output", tmp_path / "csv").exit_code in (0, 1)
    shown += [p.read_text(encoding="utf-8-sig") for p in (tmp_path / "csv").glob("*.csv")]
    assert run_cli("report", out, "--format", "xlsx", "--output", tmp_path / "r.xlsx").exit_code in (0, 1)
    with zipfile.ZipFile(tmp_path / "r.xlsx") as book:
        shown += [book.read(name).decode("utf-8") for name in book.namelist() if name.endswith(".xml")]
    shown += [p.read_text(encoding="utf-8-sig") for p in (out / "review").rglob("*.csv")]
    from .conftest import MAPPING
    validate = run_cli("validate", "--mapping", MAPPING, "--input", export_dir, "--junit", tmp_path / "j.xml")
    shown += [validate.output, (tmp_path / "j.xml").read_text(encoding="utf-8")]
    shown.append(run_cli("inspect", next(export_dir.glob("JUMIN_*.csv"))).output)
    everything = "\n".join(shown)
    leaked = sorted(s for s in spellings if s in everything)
    assert not leaked, f"{len(leaked)} 個人番号 shown, e.g. {leaked[0][-4:]} (last four digits)"


def test_ctrl_c_inside_a_duckdb_query_is_exit_130(small, tmp_path):
    """DuckDB reports Ctrl-C inside a query as its own error: once an 'internal error' (exit 3)
    or, inside dedup's training, swallowed while the run went on."""
    import duckdb

    export, mapping = small

    def interrupted(point, value):
        if point == "assembled":
            raise duckdb.InterruptException("INTERRUPT Error: Interrupted!")
        return value

    result = run_cli("migrate", "--mapping", mapping, "--input", export, "--out", tmp_path / "out", fault=interrupted)
    assert result.exit_code == 130 and "interrupted" in result.output
    assert not (tmp_path / "out").exists()  # a first run that was interrupted leaves nothing


def test_a_database_no_run_committed_to_is_removed_by_recovery(tmp_path):
    """A first run killed inside its landing transaction leaves an ikou.duckdb without a runs
    table: `ikou report` once ended in an internal error on it (Catalog Error: runs)."""
    import duckdb

    out = tmp_path / "out"
    out.mkdir()
    con = duckdb.connect(str(out / "ikou.duckdb"))
    con.execute("create table resident (x integer)")  # as a killed first landing may leave it
    con.close()
    (out / ".staging").mkdir()
    result = run_cli("report", out)
    assert result.exit_code == 2 and "no committed run" in result.output, result.output
    assert not (out / "ikou.duckdb").exists()
