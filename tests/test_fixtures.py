"""The fixture generator: deterministic, unique identifiers, valid check digits where intended."""

from __future__ import annotations

import csv
import io

import pytest

from ikou.fixtures.export_file import write_export
from ikou.fixtures.generator import EXPORT_NAME, generate, planted_rows, planted_slices
from ikou.validators.check_digits import is_valid


def test_same_seed_same_bytes(tmp_path):
    a, b = generate(tmp_path / "a", residents=800, seed=11), generate(tmp_path / "b", residents=800, seed=11)
    assert a.path.read_bytes() == b.path.read_bytes()
    assert a.expected.read_bytes() == b.expected.read_bytes()
    c = generate(tmp_path / "c", residents=800, seed=12)
    assert c.path.read_bytes() != a.path.read_bytes()


@pytest.mark.parametrize("slices", [1, 3])
def test_clean_export_has_unique_valid_identifiers(tmp_path, slices):
    """Also when planted in slices (each from a seed of its own): the numbers continue."""
    rows = planted_slices(3000, 2, defects=False, slice_residents=3000 // slices)
    export = write_export(tmp_path, rows if slices > 1 else planted_rows(3000, 2, defects=False), EXPORT_NAME, "令和8年11月1日")
    rows = list(csv.DictReader(io.StringIO(export.path.read_bytes().decode("cp932"), newline="")
                               .read().split("\n", 2)[2].splitlines(True)))
    # the hard keys of the layout are unique in a clean export (history rows differ in 履歴番号)
    codes = [(r["住民票コード"], r["履歴番号"], r["枝番号"]) for r in rows]
    atena = [(r["宛名番号"].zfill(10), r["履歴番号"], r["枝番号"]) for r in rows]
    assert len(set(codes)) == len(codes) and len(set(atena)) == len(atena)
    assert all(is_valid("resident_code", r["住民票コード"]) for r in rows)
    assert all(is_valid("individual_number", r["個人番号"]) for r in rows if r["個人番号"])
    assert all(is_valid("modulus11", r["宛名番号"].zfill(10)) for r in rows)
    assert export.records == len(rows) and export.path.name == EXPORT_NAME


def test_hard_duplicates_are_what_their_ground_truth_says(tmp_path):
    import polars as pl

    from ikou.cleansing.match_keys import address_key, kana_key, name_key

    export = generate(tmp_path, residents=3000, seed=5, defects=False, hard_duplicates=0.05)
    text = export.path.read_bytes().decode("cp932")
    # records by the line they start on, as the ground truth counts lines (Python's csv module)
    starts, prev, header = {}, 0, None
    reader = csv.reader(io.StringIO(text, newline=""))
    for k, row in enumerate(reader):
        if k == 2:
            header = row
        elif k > 2:
            starts[prev + 1] = dict(zip(header, row))
        prev = reader.line_num
    truth = pl.read_csv(export.expected).filter(pl.col("code") == "probable_duplicate")
    assert 140 <= truth.height <= 160  # 5% of ~3,000 records
    # a 住民票コード given is nobody else's (blank on most second registrations: made outside 住基ネット)
    coded = [r for r in starts.values() if r["住民票コード"]]
    unique_codes = {(r["住民票コード"], r["履歴番号"], r["枝番号"]) for r in coded}
    assert len(unique_codes) == len(coded)
    blank = {t["line"] for t in truth.iter_rows(named=True) if not starts[t["line"]]["住民票コード"]}
    assert 0.85 * truth.height <= len(blank) < truth.height
    kinds = set()
    for t in truth.iter_rows(named=True):
        dup, orig = starts[t["line"]], starts[t["survivor_line"]]
        assert t["survivor_line"] < t["line"]
        assert dup["宛名番号"] != orig["宛名番号"] and dup["世帯番号"] != orig["世帯番号"] and not dup["個人番号"]
        changed = set(t["defect"].split(":")[1].split("+"))
        kinds |= changed
        frame = pl.DataFrame({"n": [dup["氏名"], orig["氏名"]], "k": [dup["氏名カナ"], orig["氏名カナ"]]})
        keys = frame.select(name_key(pl.col("n")), kana_key(pl.col("k")))
        assert keys["n"][0] == keys["n"][1]  # a variant character, never another name
        assert (dup["氏名"] != orig["氏名"]) == ("variant_character" in changed)
        assert (keys["k"][0] != keys["k"][1]) == ("kana_typo" in changed)
        assert (dup["生年月日"] != orig["生年月日"]) == ("swapped_day_month" in changed)
        assert len(changed & {"moved", "address_form", "address_typo"}) <= 1
        if not changed & {"moved", "address_form", "address_typo"}:
            assert (dup["町字"], dup["番地"]) == (orig["町字"], orig["番地"])
        if changed & {"address_form", "address_typo"}:
            assert dup["町字"] == orig["町字"] and dup["番地"] != orig["番地"]
            blocks = pl.DataFrame({"b": [dup["番地"], orig["番地"]]}).select(address_key(pl.col("b")))["b"]
            assert (blocks[0] == blocks[1]) == ("address_form" in changed), (dup["番地"], orig["番地"])
        if "no_phone" in changed:
            assert orig["電話番号"] and not dup["電話番号"]
    assert kinds == {"variant_character", "half_width_kana", "moved", "address_form", "address_typo", "kana_typo",
                     "swapped_day_month", "no_phone"}


def test_an_export_written_in_slices_is_the_one_written_whole(tmp_path):
    """The generator writes large exports slice by slice (bounded memory at 10M residents): the
    bytes and the ground truth's line numbers are those of the export written as one piece,
    the line numbers counted on across slices after records with quoted line breaks."""
    rows = planted_rows(3000, 7)
    whole = write_export(tmp_path / "whole", rows, EXPORT_NAME, "令和8年11月1日", slice_rows=10**9)
    sliced = write_export(tmp_path / "sliced", rows, EXPORT_NAME, "令和8年11月1日", slice_rows=97)
    assert sliced.path.read_bytes() == whole.path.read_bytes()
    assert sliced.expected.read_bytes() == whole.expected.read_bytes()
    assert b"\r\n" in whole.path.read_bytes() and whole.records > 3000
