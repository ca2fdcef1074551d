"""高松市's real files through user layouts, from data files alone (mappings/examples/
takamatsu_372013): a workbook read row for row (held to openpyxl, an independent reader), and the
one-cell "latitude,longitude" split into two exact decimals (held to Python's csv module)."""

from __future__ import annotations

import csv
import json
from decimal import Decimal

import openpyxl
import pytest

from .conftest import REALDATA, ROOT, needs_realdata, query, run_cli

pytestmark = needs_realdata
EXAMPLES = ROOT / "mappings" / "examples" / "takamatsu_372013"
TAKAMATSU = REALDATA / "opendata_372013_takamatsu"


@pytest.fixture(scope="module")
def landed(tmp_path_factory):
    out = tmp_path_factory.mktemp("takamatsu")
    results = {m: run_cli("migrate", "--mapping", EXAMPLES / f"{m}.yaml", "--input", TAKAMATSU, "--out", out, "--json")
               for m in ("evacuation_space", "aed")}
    return out, {m: json.loads(r.output) for m, r in results.items() if r.exit_code in (0, 1)}, results


def test_the_workbook_migrates_row_for_row(landed):
    out, summaries, results = landed
    assert results["evacuation_space"].exit_code == 0, results["evacuation_space"].output
    s = summaries["evacuation_space"]
    sheet = openpyxl.load_workbook(TAKAMATSU / "data__evacuation_space__data.xlsx", read_only=True)["Sheet1"]
    rows = [r for r in sheet.iter_rows(values_only=True)]
    data = [r for r in rows[1:] if any(v not in (None, "") for v in r)]
    assert s["totals"]["source_records"] == len(data) == 195 and s["reconciled"] and s["columns_reconciled"]
    assert s["totals"]["landed"] + s["totals"]["rejected"] == 195
    # every coordinate is the workbook's text, exactly, and lies in Japan
    header = list(rows[0])
    got = query(out, "select number, latitude, longitude from evacuation_space order by number")
    by_number = {int(r[0]): r for r in data}
    for number, lat, lon in got.iter_rows():
        src = by_number[number]
        assert lat == Decimal(src[header.index("latitude")]) and lon == Decimal(src[header.index("longitude")])
        assert Decimal(20) <= lat <= Decimal(46) and Decimal(122) <= lon <= Decimal(154)
    # the line of a record is the sheet's row number
    lineage = query(out, "select min(source_line) as first, max(source_line) as last from lineage "
                         "where target_table = 'evacuation_space'")
    assert (lineage["first"][0], lineage["last"][0]) == (2, 196)
    cols = {c["column"]: c for c in s["columns"]}
    assert cols["jurisdiction"]["fate"] == "dropped" and cols["fire"]["fate"] == "kept"
    kept = query(out, "select count(*) as n from evacuation_space where extras['fire'] is not null")["n"][0]
    assert kept == cols["fire"]["landed"] > 0


def test_one_cell_of_latitude_and_longitude_splits_into_two_decimals(landed):
    out, summaries, results = landed
    assert results["aed"].exit_code == 0, results["aed"].output
    with open(TAKAMATSU / "old_data__0002.csv", encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    header, data = rows[6], rows[9:]
    assert summaries["aed"]["totals"]["landed"] == len(data) == 514
    expected = {int(r[0]): tuple(Decimal(x) for x in r[header.index("location")].split(",")) for r in data}
    got = query(out, "select number, latitude, longitude from aed")
    assert {int(n): (lat, lon) for n, lat, lon in got.iter_rows()} == expected
    assert all(Decimal(20) <= lat <= Decimal(46) and Decimal(122) <= lon <= Decimal(154)
               for lat, lon in expected.values())
    # the original cell is kept with each part
    change = query(out, "select original, cleansed from cleansing_changes where item = 'latitude' "
                        "and rules = 'split' order by source_line limit 1").row(0)
    assert change == ("34.34092056,134.04522972", "34.34092056")


def test_a_coordinate_outside_japan_is_out_of_range(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    text = (TAKAMATSU / "old_data__0002.csv").read_text(encoding="utf-8-sig")
    (folder / "old_data__0002.csv").write_text(text.replace('"34.34092056,134.04522972"', '"43.1,14.1"', 1),
                                               encoding="utf-8-sig")
    result = run_cli("migrate", "--mapping", EXAMPLES / "aed.yaml", "--input", folder, "--dry-run", "--json")
    summary = json.loads(result.output)
    assert summary["rejects_by_reason"] == {"out_of_range": 1}
