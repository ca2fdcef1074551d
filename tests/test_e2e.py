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

from ikou.fixtures.generator import HEADER, generate
from ikou.pipeline import landing

from .conftest import ROOT, copy_mapping, query, run_cli


def test_the_run_succeeds(migrated):
    out, result = migrated
    assert result.exit_code == 0, result.output
    assert "reconciled" in result.output


def test_every_planted_defect_has_its_expected_fate(vendor_run):
    _assert_planted_fates(*vendor_run)


def test_an_export_planted_in_slices_gets_its_expected_fates(tmp_path):
    """Above a million residents the generator plants and writes slices of households, each
    from a seed of its own (bounded memory at 10M): the numbers continue across slices, so no
    two residents share a 宛名番号, 住民票コード or 個人番号, and each slice's defects get
    their fates at the lines expected.csv counts on across slices."""
    from ikou.fixtures.export_file import write_export
    from ikou.fixtures.generator import EXPORT_NAME, planted_slices

    export = write_export(tmp_path / "in", planted_slices(2600, 3, slice_residents=1300), EXPORT_NAME, "令和8年11月1日")
    text = export.path.read_bytes().decode("cp932", "replace")
    assert f"レコード件数 {export.records}\r\n" in text and export.rows is None
    out = tmp_path / "out"
    mapping = copy_mapping(tmp_path, **{"max_reject_rate: 0.02": "max_reject_rate: 0.05"})  # 2 × 3 of a kind in 2,649
    result = run_cli("migrate", "--mapping", mapping, "--input", export.path.parent, "--out", out)
    assert result.exit_code == 0, result.output
    _assert_planted_fates(out, export.path.parent, kinds=12)
    lines = pl.read_csv(export.expected)["line"]
    assert lines.min() < export.records / 2 < lines.max()  # both slices planted theirs


def _assert_planted_fates(out: Path, export_dir: Path, kinds: int = 18) -> None:
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
    assert expected["defect"].n_unique() >= kinds


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
    assert tables == {"resident", "runs", "rejects", "alerts", "lineage", "cleansing_changes", "code_coverage",
                      "gaiji_counts", "review_queue", "excluded", "delta"}
    from ikou.layout import load_layout
    assert pl.read_parquet(part).columns == [*load_layout("resident").table("resident").schema(), "extras"]
    assert query(out, "select typeof(extras) as t from resident limit 1")["t"][0] == "MAP(VARCHAR, VARCHAR)"
    # registered characters land unchanged; kana were widened with the original kept
    assert query(out, "select count(*) n from resident where name like '髙%'")["n"][0] > 0
    kana = query(out, """select original, cleansed from cleansing_changes
                         where item = 'name_kana' and rules like '%widen_kana%' limit 1""").row(0)
    assert re.search("[\uff66-\uff9f]", kana[0]) and not re.search("[\uff66-\uff9f]", kana[1])


def test_cleansing_changes_hold_the_landed_records_only(migrated):
    out, _ = migrated
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    changes = query(out, "select source_file, source_line, rules from cleansing_changes")
    # the records that did not land (rejected, merged) have no changes; every landed one's are there
    gone = query(out, """select source_file, source_line from rejects
                         union all select source_file, source_line from lineage where fate = 'merged'""")
    assert gone.height > 0 and changes.height > 0
    assert changes.join(gone, on=["source_file", "source_line"], how="semi").height == 0
    by_rule = changes.with_columns(pl.col("rules").str.split("+")).explode("rules").group_by("rules").len()
    assert dict(by_rule.iter_rows()) == summary["cleansing_changes_by_rule"]


def test_personal_numbers_never_appear_unmasked(migrated, export_dir):
    out, result = migrated
    text = (export_dir / "JUMIN_991015_20261101.csv").read_bytes().decode("cp932", "replace")
    k = HEADER.index("個人番号")
    numbers = {row[k] for row in csv.reader(text.splitlines()[3:]) if len(row) > k and len(row[k]) == 12}
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


def test_a_failure_mid_landing_leaves_the_previous_state(small_export, small_mapping, tmp_path):
    out = tmp_path / "out"
    assert run_cli("migrate", "--mapping", small_mapping, "--input", small_export, "--out", out).exit_code == 0
    before = _state(out)
    def failing(point, value):
        if point == "load" and value == "lineage":  # after resident and rejects were replaced in the transaction
            raise OSError("disk went away")
        return value

    result = run_cli("migrate", "--mapping", small_mapping, "--input", small_export, "--out", out, fault=failing)
    assert result.exit_code == 3 and "disk went away" in result.output
    assert _state(out) == before
    assert not any((out / ".staging").iterdir())


@pytest.mark.parametrize("point", ["swap", "summary"])
def test_a_crash_after_commit_is_finished_by_the_next_command(small_export, small_mapping, tmp_path, point):
    """Killed after DuckDB's commit (before the partition swap, or before summary.json is put in
    place): recovery finishes the landing, and summary.json then describes the committed run."""
    out = tmp_path / "out"
    assert run_cli("migrate", "--mapping", small_mapping, "--input", small_export, "--out", out).exit_code == 0
    part = out / "parquet/resident/municipality_code=991015"
    first = json.loads((out / "summary.json").read_text(encoding="utf-8"))["run_id"]

    def crash(at, value):
        if at == point:
            raise KeyboardInterrupt  # the process dies between the commit and the end of the landing
        return value

    result = run_cli("migrate", "--mapping", small_mapping, "--input", small_export, "--out", out, fault=crash)
    assert result.exit_code == 130
    latest = query(out, "select run_id from runs order by finished_at desc limit 1")["run_id"][0]
    assert latest != first  # committed
    if point == "swap":  # the run's own tidying hit the same fault: the next command finishes it
        staged = list((out / ".staging").iterdir())
        assert [s.name for s in staged] == [latest]  # kept for roll-forward: its run is committed in runs
        assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["run_id"] == first  # not yet
        assert landing.recover(out) == [f"finished landing of run {latest}"]
    assert (part / "part-0.parquet").exists() and not any((out / ".staging").iterdir())
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["run_id"] == latest


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
    kept = next((out / "debug").iterdir())
    assert (kept / "PERSONAL_DATA.txt").exists()  # says what these files hold
    stages = sorted(p.name for p in kept.iterdir() if p.is_dir())
    assert stages == ["01_map_to_layout", "02_cleanse", "03_derive", "04_map_codes", "05_cast_types", "06_flag_rules"]


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
    assert summary["totals"] == {"source_records": 4, "landed": 2, "rejected": 1, "merged": 1, "excluded": 0}
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


def test_a_failed_swap_after_commit_says_so_and_is_finished_later(small_export, small_mapping, tmp_path):
    out = tmp_path / "out"

    def no_space(point, value):
        if point == "swap":
            raise OSError(28, "No space left on device")
        return value

    result = run_cli("migrate", "--mapping", small_mapping, "--input", small_export, "--out", out, fault=no_space)
    assert result.exit_code == 2  # the environment's fault, not ikou's
    assert "committed" in result.output and "No space left" in result.output and "next ikou command" in result.output
    assert not (out / "parquet").exists()
    # the next command finishes the landing before its own run
    assert run_cli("migrate", "--mapping", small_mapping, "--input", small_export, "--out", out).exit_code == 0
    assert query(out, "select count(*) n from runs")["n"][0] == 2
    assert (out / "parquet/resident/municipality_code=991015/part-0.parquet").exists()


@pytest.mark.parametrize("trimmed", [False, True], ids=["full", "trailing-blanks-trimmed"])
def test_a_fixed_width_export_migrates_and_its_trailer_is_checked(tmp_path, trimmed):
    import numpy as np

    from ikou.codecs.numeric import encode_zoned
    from ikou.validators.check_digits import modulus11_check_digit, resident_code_check_digit

    def txt(value: str, width: int) -> bytes:
        raw = value.encode("cp932")
        return raw + b" " * (width - len(raw))

    def zoned(value: int, width: int) -> bytes:
        return encode_zoned(np.array([value]), width, zone=0x3, signed=False).tobytes()

    people = [("山田　太郎", "ﾔﾏﾀﾞ ﾀﾛｳ", "1", 3600214, "01"), ("山田　花子", "ﾔﾏﾀﾞ ﾊﾅｺ", "2", 3620301, "02"),
              ("髙橋　一郎", "ﾀｶﾊｼ ｲﾁﾛｳ", "1", 4010508, "01")]
    records = [txt("1ｻｸﾗ情報ｼｽﾃﾑ 住民記録", 100)]
    for i, (name, kana, sex, birth, rel) in enumerate(people):
        base = f"{100000 + i:09d}"
        atena = base + str(modulus11_check_digit(base))
        hh = f"{500000 + (i // 2):09d}"
        household = hh + str(modulus11_check_digit(hh))
        code_base = f"{1234567000 + i:010d}"
        body = (b"2" + txt(atena, 10) + zoned(1, 2) + txt(household, 10)
                + txt(code_base + str(resident_code_check_digit(code_base)), 11) + b"JA" + txt(name, 20)
                + txt(kana, 20) + sex.encode() + zoned(birth, 7) + rel.encode() + b"01" + zoned(5060401, 7))
        records.append(body + b" " * (100 - len(body)))
    records.append(b"9" + zoned(4, 8) + b" " * 91)  # the trailer claims 4 data records: there are 3
    (tmp_path / "in").mkdir()
    if trimmed:
        records = [r.rstrip(b" ") for r in records]
    (tmp_path / "in" / "JUMIN.DAT").write_bytes(b"\r\n".join(records) + b"\r\n")
    mapping = tmp_path / "m.yaml"
    mapping.write_text("""\
municipality: {code: "991015", name: 桜ヶ丘市}
layout: resident
dates: {era_codes: "1-5", forms: [wareki_numeric]}
sources:
  - name: residents
    table: resident
    files: "JUMIN.DAT"
    format: fixed
    encoding: cp932
    record_length: 100
    short_records: SHORT
    record_type: {offset: 0, length: 1}
    header_codes: ["1"]
    data_codes: ["2"]
    trailer: {code: "9", count: {offset: 1, length: 8, type: zoned}}
    fields:
      宛名番号: {offset: 1, length: 10}
      履歴番号: {offset: 11, length: 2, type: zoned}
      世帯番号: {offset: 13, length: 10}
      住民票コード: {offset: 23, length: 11}
      住民種別: {offset: 34, length: 1}
      住民状態: {offset: 35, length: 1}
      氏名: {offset: 36, length: 20}
      氏名カナ: {offset: 56, length: 20}
      性別: {offset: 76, length: 1}
      生年月日: {offset: 77, length: 7, type: zoned}
      続柄: {offset: 84, length: 2}
      異動事由: {offset: 86, length: 2}
      異動日: {offset: 88, length: 7, type: zoned}
    items:
      municipality_code: {value: "991015"}
      atena_number: 宛名番号
      history_number: 履歴番号
      household_number: 世帯番号
      resident_code: 住民票コード
      resident_type: {column: 住民種別, code_table: types}
      resident_status: {column: 住民状態, code_table: statuses}
      name: 氏名
      name_kana: 氏名カナ
      sex: 性別
      birth_date: 生年月日
      relationship_code: {column: 続柄, code_table: relationships}
      change_reason_code: {column: 異動事由, code_table: reasons}
      change_date: 異動日
code_tables:
  types: {standard: resident_type, codes: {J: "1"}}
  statuses: {standard: resident_status, codes: {A: "1"}}
  relationships: {standard: relationship, codes: {"01": "02", "02": "12"}}
  reasons: {standard: change_reason, codes: {"01": "01"}}
""".replace("SHORT", "pad" if trimmed else "reject"), encoding="utf-8")
    out = tmp_path / "out"
    result = run_cli("migrate", "--mapping", mapping, "--input", tmp_path / "in", "--out", out, "--json")
    summary = json.loads(result.output)
    assert summary["totals"] == {"source_records": 3, "landed": 3, "rejected": 0, "merged": 0, "excluded": 0}
    assert summary["files"][0]["skipped_rows"] == 2  # the header and the trailer
    assert summary["files"][0]["padded_records"] == (5 if trimmed else 0)
    assert summary["file_findings"] == ["JUMIN.DAT: the trailer says 4 data records, the file has 3"]
    assert result.exit_code == 1
    landed = query(out, "select name, name_kana, birth_date, history_number from resident order by atena_number")
    assert landed["name"].to_list() == ["山田　太郎", "山田　花子", "髙橋　一郎"]
    assert str(landed["birth_date"][2]) == "1989-05-08" and landed["history_number"][0] == 1
    assert landed["name_kana"][0] == "ヤマダ\u3000タロウ"
    assert query(out, "select source_line from lineage order by 1")["source_line"].to_list() == [2, 3, 4]


def _gaiji_mapping(tmp_path, rows: str, unmapped: str = "alert"):
    (tmp_path / "gaiji.tsv").write_text("code\tunicode\tmj\tnote\n" + rows, encoding="utf-8")
    return copy_mapping(tmp_path, **{
        "max_reject_rate: 0.02": "max_reject_rate: 0.2",
        "\nsources:": f'\ngaiji: {{table: gaiji.tsv, version: "2026-11", unmapped: {unmapped}}}\nsources:'})


def test_gaiji_table_maps_private_use_characters_to_registered_ones(small_export, tmp_path):
    mapping = _gaiji_mapping(tmp_path, "F040\t845B E0100\tMJ006488\t葛 (葛飾区の字形)\n")  # F040 = U+E000
    out = tmp_path / "out"
    result = run_cli("migrate", "--mapping", mapping, "--input", small_export, "--out", out, "--json")
    summary = json.loads(result.output)
    assert summary["gaiji"]["mapped"] == {"U+E000": 3} and summary["gaiji"]["unmapped"] == {}
    assert "unmapped_gaiji" not in summary["alerts"]["by_code"]
    names = query(out, "select name from resident where name like '%葛%'")["name"].to_list()
    assert len(names) == 3 and all("葛\U000E0100" in n for n in names)
    changed = query(out, "select original, cleansed, rules from cleansing_changes where rules like '%gaiji%'")
    assert changed.height == 3 and all("\ue000" in o for o in changed["original"])
    counts = query(out, "select code, item, records, mapped, replacement, mj, table_version from gaiji_counts")
    assert counts.rows() == [("U+E000", "name", 3, True, "U+845B U+E0100", "MJ006488", "2026-11")]


def test_unmapped_gaiji_can_be_rejected(small_export, tmp_path):
    mapping = _gaiji_mapping(tmp_path, "U+E001\t9AD9\t\t\n", unmapped="reject")
    out = tmp_path / "out"
    summary = json.loads(run_cli("migrate", "--mapping", mapping, "--input", small_export, "--out", out,
                                 "--json").output)
    assert summary["gaiji"]["unmapped"] == {"U+E000": 3}
    assert summary["rejects_by_reason"]["unmapped_gaiji"] == 3
    message = query(out, "select message from rejects where reason_code = 'unmapped_gaiji'")["message"][0]
    assert "U+E000 at character 2 of" in message and "no entry in the 外字 table" in message


def test_gaiji_table_problems_are_reported(tmp_path):
    from ikou.errors import IkouError
    from ikou.mapping import load_mapping

    mapping = _gaiji_mapping(tmp_path, "U+0041\t42\t\t\nF040\t\t\t\nF040\t845B\t\t\nF041\tE000\t\t\n")
    with pytest.raises(IkouError) as exc:
        load_mapping(mapping)
    text = "\n".join(exc.value.problems)
    for fragment in ("U+0041 is not a private-use", "no replacement for F040", "itself a private-use"):
        assert fragment in text



def test_jef_names_keep_variant_glyphs_and_mapped_gaiji(tmp_path):
    from ikou.fixtures.vendors import generate_jef
    generate_jef(tmp_path / "in")
    out = tmp_path / "out"
    assert run_cli("migrate", "--mapping", ROOT / "mappings" / "yamabiko_991040.yaml", "--input", tmp_path / "in",
                   "--out", out).exit_code == 0
    names = query(out, "select name from resident")["name"].to_list()
    assert sum("丈\U000E0103" in n for n in names) == 3  # JEF 41A5: the variant glyph, kept with its IVS
    assert sum("葛\U000E0100" in n for n in names) == 1 and sum("辻\U000E0100" in n for n in names) == 1
    assert query(out, "select count(*) n from alerts where alert_code = 'unmapped_gaiji'")["n"][0] == 1
