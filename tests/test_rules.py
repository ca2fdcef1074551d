"""Set-level rules on small named cases: exact dedup (merge vs conflict) and households."""

from __future__ import annotations

import polars as pl

from ikou.cleansing.dedup import exact_duplicates
from ikou.layout import load_layout
from ikou.validators.household import household_findings

TABLE = load_layout("resident").table("resident")
WHERE = pl.concat_str([pl.lit("line "), pl.col("_line").cast(pl.String)])


def rows(*records: dict) -> pl.LazyFrame:
    base = {"atena_number": "1", "history_number": 1, "history_branch_number": None, "resident_code": None,
            "household_number": "H1",
            "relationship_code": "20", "resident_status": "1", "name": "山田　太郎"}
    out = [{**base, "_rid": i + 1, "_line": i + 2, **r} for i, r in enumerate(records)]
    return pl.LazyFrame(out)


def decide(*records: dict) -> dict[int, tuple[str, int | None]]:
    lf = rows(*records)
    content = [c for c in lf.collect_schema().names() if not c.startswith("_")]
    got = exact_duplicates(lf, TABLE, content, WHERE).collect()
    return {r["_rid"]: (r["decision"], r["survivor_rid"]) for r in got.iter_rows(named=True)}


def test_identical_records_merge_into_the_first():
    assert decide({}, {}, {}) == {2: ("merged", 1), 3: ("merged", 1)}


def test_same_key_different_content_rejects_all_of_them():
    got = decide({}, {"name": "山田　花子"})
    assert got == {1: ("conflict", None), 2: ("conflict", None)}


def test_conflict_message_names_the_differing_item():
    lf = rows({}, {"name": "山田　花子"})
    got = exact_duplicates(lf, TABLE, ["atena_number", "history_number", "name"], WHERE).collect()
    assert "differs in: name" in got["message"][0] and "line 2, line 3" in got["message"][0]


def test_history_rows_of_one_person_are_not_duplicates():
    assert decide({"history_number": 1}, {"history_number": 2}) == {}
    # nor are two branches (枝番号) of one history number; an empty 枝番号 matches an empty one
    assert decide({"history_branch_number": 1}, {"history_branch_number": 2}) == {}
    assert decide({"history_branch_number": None}, {"history_branch_number": None}) == {2: ("merged", 1)}


def test_resident_code_is_a_hard_key_too():
    got = decide({"atena_number": "1", "resident_code": "12345678903"},
                 {"atena_number": "2", "resident_code": "12345678903"})
    assert got == {1: ("conflict", None), 2: ("conflict", None)}


def test_null_keys_never_match():
    assert decide({"atena_number": "1"}, {"atena_number": "2"}) == {}


def test_conflict_wins_over_merge():
    # 1 and 2 are identical, 3 shares their 住民票コード with other content: all three are rejected
    same = {"atena_number": "1", "resident_code": "12345678903"}
    got = decide(same, same, {"atena_number": "9", "resident_code": "12345678903"})
    assert {d for d, _ in got.values()} == {"conflict"} and set(got) == {1, 2, 3}


def households(*records: dict) -> set[tuple[int, str]]:
    got = household_findings(rows(*records), TABLE.household, WHERE).collect()
    return {(r["_rid"], r["code"]) for r in got.iter_rows(named=True)}


def test_one_head_is_fine():
    assert households({"atena_number": "1", "relationship_code": "02"}, {"atena_number": "2"}) == set()


def test_two_heads_reject_both():
    got = households({"atena_number": "1", "relationship_code": "02"},
                     {"atena_number": "2", "relationship_code": "02"}, {"atena_number": "3"})
    assert got == {(1, "multiple_household_heads"), (2, "multiple_household_heads")}


def test_no_head_is_an_alert_on_the_first_member():
    assert households({"atena_number": "1"}, {"atena_number": "2"}) == {(1, "household_without_head")}


def test_a_former_head_who_moved_out_does_not_count():
    got = households({"atena_number": "1", "relationship_code": "02", "resident_status": "2"},
                     {"atena_number": "2", "relationship_code": "02"})
    assert got == set()


def test_only_the_latest_history_counts():
    # person 1 was head in history 1, is a child now (history 2); person 2 is the head
    got = households({"atena_number": "1", "history_number": 1, "relationship_code": "02"},
                     {"atena_number": "1", "history_number": 2, "relationship_code": "20"},
                     {"atena_number": "2", "relationship_code": "02"})
    assert got == set()


def test_the_latest_branch_of_the_latest_history_counts():
    # history 2 of person 1 has branches: branch 2 (a child again) is the latest, not branch 1 (head)
    got = households({"atena_number": "1", "history_number": 2, "history_branch_number": 1, "relationship_code": "02"},
                     {"atena_number": "1", "history_number": 2, "history_branch_number": 2, "relationship_code": "20"},
                     {"atena_number": "1", "history_number": 1, "relationship_code": "02"},
                     {"atena_number": "2", "relationship_code": "02"})
    assert got == set()
    got = households({"atena_number": "1", "history_number": 2, "history_branch_number": 2, "relationship_code": "02"},
                     {"atena_number": "1", "history_number": 2, "history_branch_number": 1, "relationship_code": "20"},
                     {"atena_number": "2", "relationship_code": "02"})
    assert got == {(1, "multiple_household_heads"), (3, "multiple_household_heads")}


def test_households_are_separate():
    got = households({"atena_number": "1", "relationship_code": "02", "household_number": "H1"},
                     {"atena_number": "2", "relationship_code": "02", "household_number": "H2"})
    assert got == set()


def _latest(*records: dict) -> set[tuple[int, str]]:
    from ikou.validators.household import latest_flag_findings

    got = latest_flag_findings(rows(*records), TABLE.history).collect()
    return {(r["_rid"], r["code"]) for r in got.iter_rows(named=True)}


def test_a_latest_flag_that_agrees_with_the_history_is_fine():
    assert _latest({"history_number": 1, "latest_flag": "0"}, {"history_number": 2, "latest_flag": "1"}) == set()
    assert _latest({"history_number": 2, "history_branch_number": 1, "latest_flag": "0"},
                   {"history_number": 2, "history_branch_number": 2, "latest_flag": "1"}) == set()


def test_a_latest_flag_on_an_earlier_record_is_an_alert_on_the_latest():
    assert _latest({"history_number": 1, "latest_flag": "1"}, {"history_number": 2, "latest_flag": "1"}) == {
        (2, "latest_flag_mismatch")}
    assert _latest({"history_number": 1, "latest_flag": "1"}, {"history_number": 2, "latest_flag": "0"}) == {
        (2, "latest_flag_mismatch")}
