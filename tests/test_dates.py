"""和暦/西暦 date parsing (DOMAIN.md §3, §6): named cases for each form and rule, and a round
trip over random dates rendered in every 和暦 form."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikou.cleansing.dates import ERAS, parse_dates
from ikou.mapping import DATE_FORMS, ERA_CONVENTIONS


def parse(values, forms=DATE_FORMS, era_codes="1-5") -> list[dict]:
    frame = pl.DataFrame({"v": values}, schema={"v": pl.String})
    out = parse_dates(frame.lazy(), [("v", "d", tuple(forms))], ERA_CONVENTIONS[era_codes]).collect()
    return out.select(date="d", landed_status="d_status", text="d_text", status="d__status").to_dicts()


D = dt.date


@pytest.mark.parametrize("text, expected", [
    ("昭和60年2月14日", D(1985, 2, 14)),
    ("昭和６０年２月１４日", D(1985, 2, 14)),  # full-width digits
    ("S60.02.14", D(1985, 2, 14)),
    ("H02.03.04", D(1990, 3, 4)),
    ("R5.1.1", D(2023, 1, 1)),
    ("r5-1-1", D(2023, 1, 1)),
    ("昭60.2.14", D(1985, 2, 14)),
    ("平成元年5月1日", D(1989, 5, 1)),
    ("H元.5.1", D(1989, 5, 1)),
    ("3600214", D(1985, 2, 14)),  # GYYMMDD, DOMAIN.md's example
    ("1985-02-14", D(1985, 2, 14)),
    ("1985/2/14", D(1985, 2, 14)),
    ("19850214", D(1985, 2, 14)),
    ("1985年2月14日", D(1985, 2, 14)),
    ("45016", D(2023, 3, 31)),  # Excel serial, as in 市川市's population file
    ("  昭和60年2月14日\u3000", D(1985, 2, 14)),
])
def test_accepted_forms(text, expected):
    r = parse([text])[0]
    assert (r["date"], r["status"], r["landed_status"], r["text"]) == (expected, "ok", None, None)


def test_era_code_convention_1_3_5_7_9():
    assert parse(["5600214"], forms=["wareki_numeric"], era_codes="1,3,5,7,9")[0]["date"] == D(1985, 2, 14)
    # under that convention the digit 3 is 大正, and 2 is no era at all
    assert parse(["3020101"], forms=["wareki_numeric"], era_codes="1,3,5,7,9")[0]["date"] == D(1913, 1, 1)
    assert parse(["2600214"], forms=["wareki_numeric"], era_codes="1,3,5,7,9")[0]["status"] == "invalid"


@pytest.mark.parametrize("text", ["不詳", "昭和20年不詳", "昭和20年5月", "昭和20年5月不詳", "S20.05.00", "00000000"])
def test_unknown_dates_are_flagged_with_their_text(text):
    r = parse([text])[0]
    assert (r["date"], r["status"], r["landed_status"], r["text"]) == (None, "unknown", "unknown", text)


@pytest.mark.parametrize("text", ["平成31年2月29日", "H30.4.31", "1900-02-29", "2023-02-29"])
def test_impossible_calendar_dates_are_flagged_not_invented(text):
    r = parse([text])[0]
    assert (r["date"], r["status"], r["text"]) == (None, "impossible", text)


@pytest.mark.parametrize("text, expected", [
    ("明治45年7月30日", D(1912, 7, 30)),  # 大正 began that day
    ("大正15年12月25日", D(1926, 12, 25)),  # 昭和 began that day
    ("昭和64年1月8日", D(1989, 1, 8)),
    ("令和元年4月30日", D(2019, 4, 30)),  # before 令和 began
])
def test_dates_outside_their_era_are_converted_and_kept(text, expected):
    r = parse([text])[0]
    assert (r["date"], r["status"], r["text"]) == (expected, "outside_era", text)


def test_last_day_of_an_era_is_fine():
    assert parse(["昭和64年1月7日", "平成31年4月30日", "2000-02-29"])[1]["status"] == "ok"


@pytest.mark.parametrize("text", ["S6O.O2.14", "2023-13-01", "昭和60年2月32日", "abc", "4/31"])
def test_unparseable_is_invalid(text):
    r = parse([text])[0]
    assert (r["date"], r["status"], r["text"]) == (None, "invalid", text)


def test_empty_and_null_are_missing_not_unknown():
    for r in parse([None, "", "　 "]):
        assert (r["date"], r["status"], r["landed_status"]) == (None, None, None)


def test_forms_not_enabled_are_not_accepted():
    assert parse(["1985-02-14"], forms=["wareki_kanji"])[0]["status"] == "invalid"
    assert parse(["45016"], forms=["wareki_kanji", "iso"])[0]["status"] == "invalid"


def _wareki_forms(day: dt.date) -> list[str]:
    idx = max(i for i, (_, start) in enumerate(ERAS) if day >= start)
    name, start = ERAS[idx]
    yy = day.year - start.year + 1
    letter = "MTSHR"[idx]
    year = "元" if yy == 1 else str(yy)
    return [f"{name}{year}年{day.month}月{day.day}日", f"{letter}{yy:02d}.{day.month:02d}.{day.day:02d}",
            f"{letter}{yy}.{day.month}.{day.day}", f"{idx + 1}{yy:02d}{day.month:02d}{day.day:02d}",
            day.isoformat(), day.strftime("%Y%m%d"), f"{day.year}年{day.month}月{day.day}日"]


@settings(max_examples=300, deadline=None)
@given(st.dates(min_value=dt.date(1873, 1, 1), max_value=dt.date(2099, 12, 31)))
def test_round_trip_every_form(day):
    texts = _wareki_forms(day)
    if day.year - ERAS[max(i for i, (_, s) in enumerate(ERAS) if day >= s)][1].year + 1 > 99:
        texts = texts[:3] + texts[4:]  # GYYMMDD has two digits for the era year
    for r in parse(texts):
        assert (r["date"], r["status"]) == (day, "ok")


def test_two_digit_era_code_form():
    got = parse(["03600214", "04010508", "05060101", "09600214"], forms=["wareki_numeric8"])
    assert [r["date"] for r in got] == [D(1985, 2, 14), D(1989, 5, 8), D(2024, 1, 1), None]
    assert got[3]["status"] == "invalid"  # 09 is no era under the 1-5 convention
    assert parse(["09600214"], forms=["wareki_numeric8"], era_codes="1,3,5,7,9")[0]["date"] == D(2078, 2, 14)
