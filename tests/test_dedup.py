"""Probable duplicates (名寄せ): the pieces (components, decisions, untrained levels, match frame)
and end to end on a fixture with hard duplicates: merges with the right survivor in lineage,
nothing else merged, registered names untouched, counts reconciled, review decisions read back
by the next run, and a rerun giving the same result."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import polars as pl
import pytest

from ikou.cleansing.probable import connected_components, match_frame
from ikou.cleansing.review_decisions import collect_decisions, load_decisions
from ikou.cleansing.splink_model import untrained_levels_prove_nothing
from ikou.errors import IkouError
from ikou.fixtures.generator import HEADER, generate
from ikou.layout import load_layout

from .conftest import MAPPING, query, run_cli

ROLES = load_layout("resident").table("resident").matching


def test_connected_components():
    edges = pl.DataFrame({"a": [1, 2, 10, 7], "b": [2, 3, 11, 3]})
    got = dict(connected_components(edges).iter_rows())
    assert got == {1: 1, 2: 1, 3: 1, 7: 1, 10: 10, 11: 10}


def test_decisions_read_utf8_and_excel_cp932(tmp_path):
    utf8 = tmp_path / "d.csv"
    utf8.write_bytes("\ufeffpair_key,decision,note\n0002~0001,same,x\n0003~0004,,\n0005~0006,Different,\n"
                     "0001~0002,different,changed my mind\n".encode("utf-8"))
    got = load_decisions(utf8).sort("pair_key")
    # the pair key is normalised (smaller id first), blanks are undecided, the last decision wins
    assert got.rows() == [("0001~0002", "different"), ("0005~0006", "different")]
    cp932 = tmp_path / "e.csv"
    cp932.write_bytes("pair_key,decision\r\n0001~0002,同一\r\n0003~0004,別人\r\n".encode("cp932"))
    assert load_decisions(cp932).rows() == [("0001~0002", "same"), ("0003~0004", "different")]
    assert load_decisions(tmp_path / "absent.csv").height == 0


def test_bad_decisions_are_all_reported(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("pair_key,decision\n1~2,yes\n3~4,same\n5~6,maybe\n", encoding="utf-8")
    with pytest.raises(IkouError) as exc:
        load_decisions(path)
    assert len(exc.value.problems) == 2 and "'yes'" in exc.value.problems[0] and ":4:" in exc.value.problems[1]
    path.write_text("pair,decision\n1~2,same\n", encoding="utf-8")
    with pytest.raises(IkouError, match="lacks the column"):
        load_decisions(path)


def test_an_unobserved_level_proves_nothing():
    model = {"comparisons": [{"output_column_name": "name", "comparison_levels": [
        {"is_null_level": True},
        {"label_for_charts": "exact", "m_probability": 0.9, "u_probability": 1e-4},
        {"label_for_charts": "similar", "m_probability": float("nan"), "u_probability": 1e-5},
        {"label_for_charts": "else", "m_probability": 0.01, "u_probability": 0.99}]}]}
    levels = untrained_levels_prove_nothing(model)["comparisons"][0]["comparison_levels"]
    bf = [lv["m_probability"] / lv["u_probability"] for lv in levels[1:]]
    assert math.isclose(bf[1], bf[2]) and bf[0] > 1 > bf[2]


def test_match_frame_is_one_row_per_person_with_folded_keys():
    rows = pl.DataFrame({
        "_rid": [1, 2, 3], "atena_number": ["A", "A", "B"], "history_number": [1, 2, 1],
        "history_branch_number": [None, None, None],
        "name": ["髙橋　花子", "髙橋　花子", "渡邉 一郎"], "name_kana": ["ﾀｶﾊｼ ﾊﾅｺ", "タカハシ　ハナコ", "わたなべ いちろう"],
        "birth_date": pl.Series([None, "1980-03-05", "1975-12-01"]).str.to_date(), "sex": ["2", "2", "1"],
        "address_town_id": ["0001001", "0001002", "0001001"], "address_block": ["１－２", "二丁目三番", "1-2"],
        "phone_number": ["090-1234-5678", "０３（１２３４）５６７８", None], "household_number": ["H1", "H1", "H2"],
    })
    frame = match_frame(rows.lazy(), ROLES)
    assert frame["unique_id"].to_list() == [2, 3]  # the latest version represents person A
    r = frame.row(0, named=True)
    assert (r["name_key"], r["surname_key"], r["kana_key"], r["kana_surname"]) == ("高橋花子", "高橋", "タカハシハナコ",
                                                                                    "タカハシ")
    assert (r["birth_date"], r["birth_swapped"], r["address_key"]) == ("1980-03-05", "1980-05-03", "0001002|2-3")
    assert (r["phone_key"], r["mobile_key"], r["household"]) == ("0312345678", None, "H1")
    b = frame.row(1, named=True)
    assert (b["name_key"], b["kana_key"], b["birth_swapped"], b["phone_key"]) == ("渡辺一郎", "ワタナベイチロウ",
                                                                                 "1975-01-12", None)


# -- end to end ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hard_export(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("hard")
    generate(folder, residents=3000, seed=31, hard_duplicates=0.04)
    return folder


@pytest.fixture(scope="module")
def hard_run(hard_export, tmp_path_factory):
    out = tmp_path_factory.mktemp("hard-out")
    result = run_cli("migrate", "--mapping", MAPPING, "--input", hard_export, "--out", out, "--json")
    assert result.exit_code == 0, result.output
    return out, json.loads(result.output)


def test_hard_duplicates_are_merged_into_the_right_survivor(hard_export, hard_run):
    out, summary = hard_run
    truth = pl.read_csv(hard_export / "expected.csv", schema_overrides={"code": pl.String, "item": pl.String})
    dups = truth.filter(pl.col("code") == "probable_duplicate")
    assert dups.height >= 100
    merged = query(out, "select source_line, survivor_line, merge_reason, match_probability from lineage "
                        "where fate = 'merged' and merge_reason = 'probable_duplicate'")
    got = dups.join(merged, left_on="line", right_on="source_line", how="left")
    # every merge names the record the duplicate really duplicates, with a probability to show for it
    wrong = got.filter(pl.col("survivor_line_right").is_not_null()
                       & (pl.col("survivor_line_right") != pl.col("survivor_line")))
    assert wrong.height == 0
    assert merged["match_probability"].min() >= 0.999
    # precision: nothing that is not a planted duplicate was merged as one
    assert set(merged["source_line"].to_list()) <= set(dups["line"].to_list())
    # never merged unasked (auto_merge_requires): one in ten with a 住民票コード of its own (重複付番),
    # and those that moved (or whose 番地 was mistyped) with no phone to corroborate
    recall = got["survivor_line_right"].is_not_null().sum() / dups.height
    assert recall >= 0.65, recall
    # the ones not merged wait for review, none is silently lost
    missed = got.filter(pl.col("survivor_line_right").is_null())["line"].to_list()
    queue = query(out, "select source_line_1, source_line_2, evidence, match_probability from review_queue")
    queued = set(queue["source_line_1"].to_list()) | set(queue["source_line_2"].to_list())
    assert all(line in queued for line in missed)
    # those held back although they scored at or above auto_merge say why
    held = queue.filter(pl.col("evidence").str.contains("held: different_identifier"))
    assert held.height > 0 and (held["match_probability"] >= 0.999).all()
    assert queue.filter((pl.col("match_probability") >= 0.999) & ~pl.col("evidence").str.contains("held: ")).is_empty()
    d = summary["dedup"][0]
    assert d["merged_records"] == merged.height and summary["merged_by_reason"]["probable_duplicate"] == merged.height
    # typed in the summary model, and read back from summary.json as written
    from ikou.report import DedupOutcome, RunSummary
    again = RunSummary.from_json((out / "summary.json").read_text(encoding="utf-8"))
    assert isinstance(again.dedup[0], DedupOutcome) and again.dedup[0].merged_records == merged.height
    assert json.loads(again.to_json())["dedup"] == summary["dedup"]
    assert summary["reconciled"] and summary["totals"]["merged"] == sum(summary["merged_by_reason"].values())


def test_registered_characters_survive_dedup(hard_export, hard_run):
    """A duplicate written 髙橋 merged into a 高橋 survivor: the survivor lands exactly as it was
    registered, and lineage keeps where the duplicate came from."""
    out, _ = hard_run
    truth = pl.read_csv(hard_export / "expected.csv", schema_overrides={"code": pl.String, "item": pl.String})
    variant = truth.filter(pl.col("defect").str.contains("variant_character"))
    assert variant.height >= 5
    raw = (hard_export / "JUMIN_991015_20261101.csv").read_bytes().decode("cp932", "replace").split("\r\n")
    landed = query(out, "select l.source_line, r.name from resident r join lineage l on l.fate = 'landed' and "
                        "l.target_key = 'atena_number=' || r.atena_number || ';history_number=' || r.history_number "
                        "|| ';history_branch_number=' || r.history_branch_number")
    k = HEADER.index("氏名")
    names = dict(landed.iter_rows())
    for r in variant.iter_rows(named=True):
        survivor_name = raw[r["survivor_line"] - 1].split(",")[k]
        dup_name = raw[r["line"] - 1].split(",")[k]
        assert survivor_name != dup_name  # a different registered character …
        assert names[r["survivor_line"]] == survivor_name  # … and the survivor's own landed unchanged


def test_review_decisions_round_trip(hard_export, tmp_path):
    """Pairs below auto_merge wait in the queue; a reviewer decides two of them; the next run
    merges the one decided same, keeps the other apart, and asks about neither again."""
    mapping = tmp_path / "m.yaml"
    text = MAPPING.read_text(encoding="utf-8").replace("auto_merge: 0.999", "auto_merge: 1.0").replace(
        "review: 0.9", "review: 0.5")
    mapping.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    first = run_cli("migrate", "--mapping", mapping, "--input", hard_export, "--out", out, "--json")
    assert first.exit_code == 0, first.output
    queue_csv = out / "review" / "991015" / "review_queue_resident.csv"
    written = pl.read_csv(queue_csv, infer_schema=False)
    # Japanese headers for the people who fill it in, the column id in brackets for ikou
    assert written.columns[:2] == ["組キー (pair_key)", "判定（同一/別人） (decision)"]
    assert "氏名_1 (name_1)" in written.columns and "生年月日_2 (birth_date_2)" in written.columns
    headers = dict(zip([h.rsplit("(", 1)[1].rstrip(")") for h in written.columns], written.columns))
    queue = written.rename({v: k for k, v in headers.items()})
    assert queue.height >= 2 and queue.columns[:2] == ["pair_key", "decision"]
    assert {"name_1", "name_2", "birth_date_1", "source_line_1", "evidence"} <= set(queue.columns)
    same_key, diff_key = queue["pair_key"][0], queue["pair_key"][1]
    edited = queue.with_columns(decision=pl.when(pl.col("pair_key") == same_key).then(pl.lit("同一"))
                                .when(pl.col("pair_key") == diff_key).then(pl.lit("different")))
    # saved by Excel with the headers as they were
    queue_csv.write_bytes(b"\xef\xbb\xbf" + edited.rename(headers).write_csv().encode("utf-8"))
    collected = run_cli("review", "collect", "--mapping", mapping, queue_csv)
    assert collected.exit_code == 0 and "2 decision(s)" in collected.output
    assert load_decisions(tmp_path / "review_decisions_991015.csv").sort("pair_key").rows() == sorted(
        [(same_key, "same"), (diff_key, "different")])

    second = run_cli("migrate", "--mapping", mapping, "--input", hard_export, "--out", out, "--json")
    summary = json.loads(second.output)
    assert summary["dedup"][0]["decisions"] == {"same": 1, "different": 1, "stale": 0}
    keys = set(query(out, "select pair_key from review_queue")["pair_key"].to_list())
    assert same_key not in keys and diff_key not in keys
    same_lines = queue.filter(pl.col("pair_key") == same_key).select("source_line_1", "source_line_2").row(0)
    lineage = query(out, f"select source_line, fate, merge_reason, survivor_line from lineage "
                         f"where source_line in ({same_lines[0]}, {same_lines[1]})")
    assert sorted(lineage["fate"].to_list()) == ["landed", "merged"]
    assert lineage.filter(pl.col("fate") == "merged")["merge_reason"].to_list() == ["reviewed_duplicate"]
    assert summary["reconciled"]

    # a rerun of the same inputs and decisions gives the same tables
    before = {t: query(out, f"select * exclude (run_id) from {t} order by all") for t in ("lineage", "review_queue")}
    third = run_cli("migrate", "--mapping", mapping, "--input", hard_export, "--out", out)
    assert third.exit_code == 0
    for t, frame in before.items():
        assert query(out, f"select * exclude (run_id) from {t} order by all").equals(frame), t


def test_exact_method_merges_no_probable_duplicate(hard_export, tmp_path):
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING.read_text(encoding="utf-8").replace("method: probabilistic", "method: exact"),
                       encoding="utf-8")
    result = run_cli("migrate", "--mapping", mapping, "--input", hard_export, "--dry-run", "--json")
    summary = json.loads(result.output)
    assert summary["dedup"] == [] and set(summary["merged_by_reason"]) == {"exact_duplicate"}


def test_collect_keeps_earlier_decisions(tmp_path):
    queue = tmp_path / "q.csv"
    decisions = tmp_path / "sub" / "d.csv"
    queue.write_text("pair_key,decision,name_1\n1~2,same,A\n3~4,,B\n", encoding="utf-8")
    assert collect_decisions(queue, decisions) == (1, 1)
    queue.write_text("pair_key,decision,name_1\n4~3,別人,B\n2~1,different,A\n", encoding="utf-8")
    assert collect_decisions(queue, decisions) == (2, 2)
    assert load_decisions(decisions).sort("pair_key").rows() == [("1~2", "different"), ("3~4", "different")]
    shutil.rmtree(tmp_path / "sub")
