"""End to end on the fixture municipality: every planted defect has exactly its expected fate,
counts reconcile, personal numbers never show, reruns are identical, other municipalities are
untouched, and an interrupted landing leaves the previous state intact."""

from __future__ import annotations

import csv
import hashlib
import json
import re
from pathlib import Path

import polars as pl
import pytest

from ikou.fixtures.generator import generate
from ikou.pipelines import landing

from .conftest import copy_mapping, query, run_cli


def test_the_run_succeeds(migrated):
    out, result = migrated
    assert result.exit_code == 0, result.output
    assert "reconciled" in result.output


def test_every_planted_defect_has_its_expected_fate(migrated, export_dir):
    out, _ = migrated
    expected = pl.read_csv(export_dir / "expected.csv", schema_overrides={"code": pl.String, "item": pl.String})
    rejects = query(out, "select source_line as line, reason_code, item from rejects")
    lineage = query(out, "select source_line as line, fate, survivor_line from lineage")
    alerts = query(out, "select source_line as line, alert_code, item from alerts")
    for r in expected.iter_rows(named=True):
        where = f"line {r['line']} ({r['defect']})"
        if r["fate"] == "rejected":
            got = rejects.filter(pl.col("line") == r["line"])
            assert got.height == 1, where
            assert got["reason_code"][0] == r["code"], where
            if r["item"]:
                assert got["item"][0] == r["item"], where
            assert lineage.filter(pl.col("line") == r["line"]).height == 0, where
        elif r["fate"] == "merged":
            got = lineage.filter(pl.col("line") == r["line"])
            assert got["fate"].to_list() == ["merged"], where
            survivor = got["survivor_line"][0]
            assert lineage.filter((pl.col("line") == survivor) & (pl.col("fate") == "landed")).height == 1
        else:
            assert lineage.filter((pl.col("line") == r["line"]) & (pl.col("fate") == "landed")).height == 1, where
            if r["code"]:
                hit = alerts.filter((pl.col("line") == r["line"]) & (pl.col("alert_code") == r["code"])
                                    & (pl.col("item") == r["item"]))
                assert hit.height == 1, where
    # nothing else was rejected or alerted: the planted defects are the only ones
    planted = set(expected["line"].to_list())
    assert rejects.filter(~pl.col("line").is_in(planted)).height == 0
    assert alerts.filter(~pl.col("line").is_in(planted)).height == 0
    # and every kind of defect was planted
    assert expected["defect"].n_unique() >= 18


def test_counts_reconcile_from_the_landed_tables(migrated, export_dir):
    out, _ = migrated
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert {"run_id", "municipality_code", "layout", "files", "totals", "alerts", "reconciled"} <= set(summary)
    assert summary["reconciled"] is True and summary["exit_code"] == 0
    f = summary["files"][0]
    assert set(f) >= {"path", "sha256", "source_records", "landed", "rejected", "merged"}
    data = (export_dir / f["path"]).read_bytes()
    assert f["sha256"] == hashlib.sha256(data).hexdigest()
    # an independent count of the source records with Python's csv module
    records = sum(1 for row in list(csv.reader(data.decode("cp932", "replace").splitlines(True)))[3:] if row)
    assert f["source_records"] == records == f["landed"] + f["rejected"] + f["merged"]
    counts = query(out, """select (select count(*) from resident) landed,
                                  (select count(*) from rejects) rejected,
                                  (select count(*) from lineage where fate = 'merged') merged""").row(0)
    assert counts == (f["landed"], f["rejected"], f["merged"])
    run = query(out, "select * from runs").row(0, named=True)
    assert run["reconciled"] and run["source_records"] == records and run["mapping_sha256"]


def test_landed_layout_and_tables(migrated):
    out, _ = migrated
    part = out / "parquet" / "resident" / "municipality_code=991015" / "part-0.parquet"
    assert part.exists()
    tables = set(query(out, "show tables")["name"].to_list())
    assert tables == {"resident", "runs", "rejects", "alerts", "lineage", "cleansing_changes", "code_coverage"}
    from ikou.layout import load_layout
    assert pl.read_parquet(part).columns == list(load_layout("resident").table("resident").schema())
    # registered characters land unchanged; kana were widened with the original kept
    assert query(out, "select count(*) n from resident where name like '髙%'")["n"][0] > 0
    kana = query(out, """select original, cleansed from cleansing_changes
                         where item = 'name_kana' and rules like '%widen_kana%' limit 1""").row(0)
    assert re.search("[\uff66-\uff9f]", kana[0]) and not re.search("[\uff66-\uff9f]", kana[1])


def test_personal_numbers_never_appear_unmasked(migrated, export_dir):
    out, result = migrated
    text = (export_dir / "JUMIN_991015_20261101.csv").read_bytes().decode("cp932", "replace")
    numbers = {row[4] for row in csv.reader(text.splitlines()[3:]) if len(row) > 4 and len(row[4]) == 12}
    assert len(numbers) > 1000
    shown = result.output + (out / "summary.json").read_text(encoding="utf-8")
    shown += " ".join(query(out, "select message || coalesce(value, '') m from alerts")["m"].to_list())
    shown += " ".join(query(out, "select message from rejects")["message"].to_list())
    assert not any(n in shown for n in numbers)
    masked = query(out, "select message from rejects where item = 'individual_number'")["message"].to_list()
    assert masked and all("********" in m for m in masked)


@pytest.fixture(scope="module")
def small_export(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("small")
    generate(out, residents=1000, seed=7)
    return out


@pytest.fixture(scope="module")
def small_mapping(tmp_path_factory) -> Path:
    # 1,000 residents with every defect planted three times: about 4% rejects, over the demo's 2%
    return copy_mapping(tmp_path_factory.mktemp("m"), **{"max_reject_rate: 0.02": "max_reject_rate: 0.1"})


def _snapshot(out: Path) -> dict[str, list]:
    """Table contents without run ids, in a stable order."""
    snap = {}
    for table in ("resident", "rejects", "alerts", "lineage", "cleansing_changes", "code_coverage"):
        frame = query(out, f"select * exclude (run_id) from {table}" if table != "resident"
                      else "select * from resident")
        snap[table] = sorted(map(repr, frame.rows()))
    return snap


def test_rerun_gives_identical_contents(small_export, small_mapping, tmp_path):
    out = tmp_path / "out"
    assert run_cli("migrate", "--mapping", small_mapping, "--input", small_export, "--out", out).exit_code == 0
    first = _snapshot(out)
    parquet = (out / "parquet/resident/municipality_code=991015/part-0.parquet").read_bytes()
    assert run_cli("migrate", "--mapping", small_mapping, "--input", small_export, "--out", out).exit_code == 0
    assert _snapshot(out) == first
    assert (out / "parquet/resident/municipality_code=991015/part-0.parquet").read_bytes() == parquet
    assert query(out, "select count(*) n from runs")["n"][0] == 2
    assert not any((out / ".staging").iterdir())


def test_other_municipalities_in_the_same_out_are_untouched(small_export, small_mapping, tmp_path):
    out = tmp_path / "out"
    other = copy_mapping(tmp_path, **{'code: "991015"': 'code: "991023"', '{value: "991015"}': '{value: "991023"}',
                                      "max_reject_rate: 0.02": "max_reject_rate: 0.1"})
    assert run_cli("migrate", "--mapping", other, "--input", small_export, "--out", out).exit_code == 0
    assert run_cli("migrate", "--mapping", small_mapping, "--input", small_export, "--out", out).exit_code == 0
    before = query(out, "select * from resident where municipality_code = '991023'").rows()
    assert run_cli("migrate", "--mapping", small_mapping, "--input", small_export, "--out", out).exit_code == 0
    assert query(out, "select * from resident where municipality_code = '991023'").rows() == before
    per = query(out, "select municipality_code, count(*) n from resident group by 1 order by 1")
    assert per["n"][0] == per["n"][1] and len(before) == per["n"][0]
    assert (out / "parquet/resident/municipality_code=991023").is_dir()


def _state(out: Path) -> tuple:
    files = sorted((p.relative_to(out).as_posix(), hashlib.sha256(p.read_bytes()).hexdigest())
                   for p in (out / "parquet").rglob("*.parquet"))
    return files, _snapshot(out), query(out, "select run_id from runs")["run_id"].to_list()


def test_a_failure_mid_landing_leaves_the_previous_state(small_export, small_mapping, tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert run_cli("migrate", "--mapping", small_mapping, "--input", small_export, "--out", out).exit_code == 0
    before = _state(out)
    real = landing._replace_partition

    def failing(con, table, files, code):
        if table == "lineage":  # after resident and rejects were replaced inside the transaction
            raise OSError("disk went away")
        return real(con, table, files, code)

    monkeypatch.setattr(landing, "_replace_partition", failing)
    result = run_cli("migrate", "--mapping", small_mapping, "--input", small_export, "--out", out)
    assert result.exit_code == 3 and "disk went away" in result.output
    monkeypatch.undo()
    assert _state(out) == before
    assert not any((out / ".staging").iterdir())


def test_a_crash_after_commit_is_finished_by_the_next_command(small_export, small_mapping, tmp_path, monkeypatch):
    out = tmp_path / "out"
    assert run_cli("migrate", "--mapping", small_mapping, "--input", small_export, "--out", out).exit_code == 0
    part = out / "parquet/resident/municipality_code=991015"

    def crash(out_dir, staged):
        raise KeyboardInterrupt  # the process dies between the commit and the partition swap

    monkeypatch.setattr(landing, "_swap_partitions", crash)
    result = run_cli("migrate", "--mapping", small_mapping, "--input", small_export, "--out", out)
    assert result.exit_code == 130
    monkeypatch.undo()
    staged = list((out / ".staging").iterdir())
    assert len(staged) == 1  # kept for roll-forward: its run is committed in runs
    assert staged[0].name in query(out, "select run_id from runs")["run_id"].to_list()
    notes = landing.recover(out)
    assert notes == [f"finished landing of run {staged[0].name}"]
    assert (part / "part-0.parquet").exists() and not any((out / ".staging").iterdir())


def test_dry_run_writes_nothing(small_export, small_mapping, tmp_path):
    out = tmp_path / "out"
    result = run_cli("migrate", "--mapping", small_mapping, "--input", small_export, "--out", out, "--dry-run", "--json")
    assert result.exit_code == 0
    summary = json.loads(result.output)
    assert summary["dry_run"] is True and summary["reconciled"] is True
    assert not out.exists()
    result = run_cli("migrate", "--mapping", small_mapping, "--input", small_export, "--dry-run")
    assert result.exit_code == 0 and "DRY RUN" in result.output


def test_debug_keeps_every_stage_output(small_export, small_mapping, tmp_path):
    out = tmp_path / "out"
    assert run_cli("--debug", "migrate", "--mapping", small_mapping, "--input", small_export, "--out", out).exit_code == 0
    stages = sorted(p.name for p in next((out / "debug").iterdir()).iterdir())
    assert stages == ["01_map_to_layout", "02_cleanse", "03_map_codes", "04_cast_types", "05_flag_rules"]


def test_a_new_layout_and_mapping_migrate_without_new_code(tmp_path):
    """A made-up 業務 (facility registry) from files alone: a layout, a mapping, a UTF-8 export."""
    layout = tmp_path / "facility.yaml"
    layout.write_text("""\
layout: facility
name_ja: 施設台帳
version: "1"
code_tables:
  kind: {name_ja: 種別, codes: {"1": 学校, "2": 病院}}
tables:
  facility:
    name_ja: 施設
    duplicate_keys: [[facility_id]]
    row_key: [facility_id]
    items:
      - {id: municipality_code, name_ja: 市区町村コード, type: string, required: true,
         checks: [{check_digit: lg_code}]}
      - {id: facility_id, name_ja: 施設番号, type: string, profile: digits, required: true}
      - {id: name, name_ja: 名称, type: string, profile: name, required: true}
      - {id: kind, name_ja: 種別, type: string, profile: code, code_table: kind}
      - {id: beds, name_ja: 病床数, type: integer, profile: digits}
      - {id: opened, name_ja: 開設日, type: date}
""", encoding="utf-8")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(f"""\
municipality: {{code: "372013", name: 高松市}}
layout: {layout}
sources:
  - name: f
    table: facility
    files: "*.csv"
    encoding: utf-8
    items:
      municipality_code: {{value: "372013"}}
      facility_id: {{column: 番号, pad: 4}}
      name: 名称
      kind: {{column: 種別, code_table: k}}
      beds: 病床数
      opened: 開設日
code_tables:
  k: {{standard: kind, codes: {{学校: "1", 病院: "2"}}}}
""", encoding="utf-8")
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "f.csv").write_text(
        "番号,名称,種別,病床数,開設日\n1,日新小学校,学校,,昭和30年4月1日\n2,市民病院,病院,３００,H2.4.1\n"
        "2,市民病院,病院,３００,H2.4.1\n3,謎の施設,研究所,x,不詳\n", encoding="utf-8")
    out = tmp_path / "out"
    result = run_cli("migrate", "--mapping", mapping, "--input", tmp_path / "in", "--out", out, "--json")
    summary = json.loads(result.output)
    assert summary["totals"] == {"source_records": 4, "landed": 2, "rejected": 1, "merged": 1}
    assert summary["reconciled"] and result.exit_code == 0  # no thresholds in this mapping: no limit
    landed = query(out, "select facility_id, beds, opened from facility order by facility_id").rows()
    assert landed[1][:2] == ("0002", 300)
    assert query(out, "select reasons from rejects")["reasons"][0].startswith("unmapped_code")


@pytest.mark.parametrize("policy, fate", [("alert", "landed"), ("error", "rejected"), ("convert", "landed")])
def test_outside_era_policy(small_export, tmp_path, policy, fate):
    mapping = copy_mapping(tmp_path, **{'  era_codes: "1-5"': f'  era_codes: "1-5"\n  outside_era: {policy}',
                                        "max_reject_rate: 0.02": "max_reject_rate: 0.2"})
    out = tmp_path / "out"
    assert run_cli("migrate", "--mapping", mapping, "--input", small_export, "--out", out).exit_code == 0
    planted = pl.read_csv(small_export / "expected.csv", schema_overrides={"code": pl.String, "item": pl.String})
    lines = planted.filter(pl.col("defect") == "date_outside_era")["line"].to_list()
    alerts = query(out, "select source_line from alerts where alert_code = 'date_outside_era'")["source_line"].to_list()
    rejects = query(out, "select source_line, reason_code from rejects where reason_code = 'date_outside_era'")
    landed = query(out, "select source_line from lineage where fate = 'landed'")["source_line"].to_list()
    assert sorted(alerts) == (sorted(lines) if policy == "alert" else [])
    assert sorted(rejects["source_line"].to_list()) == (sorted(lines) if policy == "error" else [])
    assert all((line in landed) == (fate == "landed") for line in lines)


def test_a_failed_swap_after_commit_says_so_and_is_finished_later(small_export, small_mapping, tmp_path,
                                                                  monkeypatch):
    out = tmp_path / "out"

    def no_space(out_dir, staged):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(landing, "_swap_partitions", no_space)
    result = run_cli("migrate", "--mapping", small_mapping, "--input", small_export, "--out", out)
    assert result.exit_code == 3
    assert "committed" in result.output and "No space left" in result.output and "next ikou command" in result.output
    monkeypatch.undo()
    assert not (out / "parquet").exists()
    # the next command finishes the landing before its own run
    assert run_cli("migrate", "--mapping", small_mapping, "--input", small_export, "--out", out).exit_code == 0
    assert query(out, "select count(*) n from runs")["n"][0] == 2
    assert (out / "parquet/resident/municipality_code=991015/part-0.parquet").exists()
