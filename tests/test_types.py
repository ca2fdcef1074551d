"""Decimals (exact, within precision and scale), ranges of decimals and dates, and dates held as
the standard holds them: the date, its 不詳フラグ and 不詳表記, and 非暦日 kept, not rejected."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikou.layout import parse_layout
from ikou.mapping import Mapping, Source
from ikou.pipeline.feeds import Feed, Feeds
from ikou.pipeline.stages import Context, cast_types, cleanse

from .conftest import query, run_cli
from .test_columns import HEADER, MAP, ROWS, TOWNS, write_columns_export

LAYOUT = parse_layout("""\
layout: t
tables:
  t:
    items:
      - {id: municipality_code, name_ja: 市区町村コード, type: string}
      - {id: lat, name_ja: 緯度, type: decimal, precision: 10, scale: 8, checks: [{range: [20, 46]}]}
      - {id: day, name_ja: 日, type: date, checks: [{range: ["1868-01-25", "2100-12-31"]}]}
""", "t.yaml")
TABLE = LAYOUT.table("t")


def _decimals(values: list[str | None]) -> pl.DataFrame:
    mapping = Mapping(municipality_code="991015", municipality_name="", layout=LAYOUT, sources=(), code_tables={},
                      thresholds=None, era_codes="1-5", date_forms=("iso",), outside_era="alert", gaiji=None,
                      vendor="", dedup=None, path="m.yaml", sha256="")
    feeds = Feeds(by_item={"lat": Feed("lat", "column", ("c",))}, splits=(), kept=())
    ctx = Context(mapping, Source(name="s", table="t", files="*"), TABLE, feeds)
    lf = pl.LazyFrame({"lat__raw": values}, schema={"lat__raw": pl.String})
    for _, stage in (cleanse(ctx), cast_types(ctx)):
        lf = stage(lf)
    return lf.select("lat", "lat__baddec").collect()


@pytest.mark.parametrize("text, value", [
    ("34.28", Decimal("34.28")), ("34.34092056", Decimal("34.34092056")), ("-0.5", Decimal("-0.5")),
    ("+12", Decimal("12")), ("３４．２８", Decimal("34.28")), ("−0.5", Decimal("-0.5")), (" 34.1 ", Decimal("34.1")),
    ("007.5", Decimal("7.5")),
])
def test_a_decimal_lands_exactly(text, value):
    got = _decimals([text]).row(0)
    assert got == (value, False)


@pytest.mark.parametrize("text", ["34.340920561", "1e3", "34,28", "abc", "123.4", ".5", "3.", "1 000"])
def test_a_value_beyond_precision_or_scale_or_not_a_decimal_is_invalid_never_rounded(text):
    assert _decimals([text]).row(0) == (None, True)


@given(st.decimals(min_value=Decimal("-99.99999999"), max_value=Decimal("99.99999999"), places=8,
                   allow_nan=False, allow_infinity=False))
@settings(max_examples=300, deadline=None)
def test_every_decimal_of_the_precision_round_trips(value):
    got = _decimals([f"{value:f}"]).row(0)
    assert got == (value, False)


def test_ranges_of_decimals_and_dates(tmp_path):
    from ikou.validators.schema import build_schema, failure_issues

    frame = pl.DataFrame({"municipality_code": ["991015"] * 4,
                          "lat": [Decimal("34.1"), Decimal("19.99999999"), Decimal("46"), None],
                          "day": [dt.date(2020, 1, 1), dt.date(1868, 1, 24), dt.date(2100, 12, 31), None],
                          "day_status": [None] * 4, "day_text": [None] * 4},
                         schema={"municipality_code": pl.String, "lat": pl.Decimal(10, 8), "day": pl.Date,
                                 "day_status": pl.String, "day_text": pl.String}).with_row_index("_row")
    found = failure_issues(build_schema(LAYOUT, TABLE), frame.drop("_row"))
    assert {(r["_row"], r["item"], r["code"]) for r in found.iter_rows(named=True)} == {
        (1, "lat", "out_of_range"), (1, "day", "out_of_range")}


def test_dates_land_with_the_standards_flag_and_text_and_non_calendar_days_are_kept(tmp_path):
    rows = [list(r) for r in ROWS]
    birth = HEADER.index("生年月日")
    rows[0][birth], rows[1][birth], rows[2][birth], rows[3][birth] = \
        "平成31年2月29日", "明治45年7月30日", "昭和20年不詳", "大正15年12月25日"
    write_columns_export(tmp_path / "in", rows=rows)
    (tmp_path / "towns.tsv").write_text(TOWNS, encoding="utf-8")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAP.replace("birth_date: {column: 生年月日, date_forms: [iso]}", "birth_date: 生年月日"),
                       encoding="utf-8")
    result = run_cli("migrate", "--mapping", mapping, "--input", tmp_path / "in", "--out", tmp_path / "out", "--json")
    summary = json.loads(result.output)
    assert summary["totals"]["rejected"] == 0, summary["rejects_by_reason"]  # 非暦日 and 不詳 are not rejected
    got = query(tmp_path / "out", "select birth_date, birth_date_status, birth_date_text, birth_date_unknown_flag, "
                                  "birth_date_unknown_text from resident order by atena_number")
    assert got.rows() == [
        (None, "impossible", "平成31年2月29日", "0", None),  # no 29 February in 2019: kept as written
        (dt.date(1912, 7, 30), "outside_era", "明治45年7月30日", "0", None),  # already 大正: converted, kept
        (None, "unknown", "昭和20年不詳", "1", "昭和20年不詳"),  # 不詳: the flag and the 不詳表記
        (dt.date(1926, 12, 25), "outside_era", "大正15年12月25日", "0", None),  # already 昭和元年
    ]
    assert summary["alerts"]["by_code"] == {"date_outside_era": 2, "impossible_date": 1, "unknown_date": 1,
                                            "lookup_unmatched": 1, "split_mismatch": 1}
