"""A simulated prefecture (issue 20, part 4): forty municipalities of 長野県 sized by a real
measure (their postal codes in KEN_ALL, from 総務省's code list), generated, migrated with
migrate-group, reported and apportioned end to end; the group summary, the report and 費用按分
stay readable at forty members."""

from __future__ import annotations

import json

import lxml.html
import pytest

from ikou.fixtures.prefecture import municipalities
from ikou.textwidth import display_width
from tests.conftest import run_cli

MEMBERS = 40


@pytest.fixture(scope="module")
def prefecture(tmp_path_factory):
    root = tmp_path_factory.mktemp("pref")
    result = run_cli("fixtures", "generate-group", "--out", root, "--size-distribution", "real",
                     "--members", MEMBERS, "--prefecture", "20", "--residents", 60000)
    assert result.exit_code == 0, result.output
    group = root / "mappings" / "group.yaml"
    run = run_cli("migrate-group", group, "--input-root", root / "exports", "--out", root / "out")
    return root, group, run


def test_members_are_the_prefectures_first_municipalities_sized_by_their_postal_codes(prefecture):
    root, _, _ = prefecture
    import yaml

    group = yaml.safe_load((root / "mappings" / "group.yaml").read_text(encoding="utf-8"))
    nagano = [m for m in municipalities() if m.code.startswith("20")]
    assert [m["code"] for m in group["members"]] == [m.code for m in nagano[:MEMBERS]]
    assert group["members"][0]["name"] == "長野市"
    residents = {}
    for m in nagano[:MEMBERS]:
        export = next((root / "exports" / m.code).iterdir())
        residents[m.code] = export.stat().st_size
    # the largest municipality by postal codes has the largest export; the sizes are skewed
    biggest = max(nagano[:MEMBERS], key=lambda m: m.postal_codes)
    assert biggest.code == "202011" and max(residents, key=residents.get) == "202011"
    sizes = sorted(m.postal_codes for m in nagano[:MEMBERS])
    assert sizes[-1] > 5 * sizes[len(sizes) // 2]  # a real size distribution: a long tail


def test_the_group_migrates_and_reconciles_and_reads_at_forty_members(prefecture, tmp_path):
    root, group, run = prefecture
    assert run.exit_code in (0, 1), run.output[-3000:]
    lines = run.output.splitlines()
    table = [line for line in lines if line[:8].strip().isdigit() and "  succeeded  " in line]  # the member rows
    assert len(table) == MEMBERS and len({display_width(line.split("  succeeded")[0]) for line in table}) == 1
    summary = json.loads((root / "out" / "group_summary.json").read_text(encoding="utf-8"))
    assert len(summary["succeeded"]) == MEMBERS and summary["failed"] == []
    report = json.loads(run_cli("report", root / "out", "--format", "json").output)
    assert report["reconciled"] and len(report["municipalities"]) == 2 * MEMBERS  # resident and tax each
    assert run_cli("report", root / "out", "--format", "html", "--output", tmp_path / "r.html").exit_code in (0, 1)
    doc = lxml.html.fromstring((tmp_path / "r.html").read_text(encoding="utf-8"))
    sections = doc.xpath("//details[contains(@class, 'municipality')]")
    assert len(sections) == MEMBERS
    assert [s.get("open") is not None for s in sections].count(True) == sum(
        1 for code in {m["municipality_code"] for m in report["municipalities"]}
        if not all(m["reconciled"] and m["money_reconciled"] for m in report["municipalities"]
                   if m["municipality_code"] == code))  # folded unless it needs attention
    cost = 123_456_789
    result = run_cli("group", "apportion", group, "--cost", cost, "--method", "records", "--out", root / "out",
                     "--json")
    assert result.exit_code == 0, result.output
    shares = json.loads(result.output)
    assert len(shares["members"]) == MEMBERS and sum(m["yen"] for m in shares["members"]) == cost
    by_code = {m["code"]: m["yen"] for m in shares["members"]}
    assert max(by_code, key=by_code.get) == "202011"  # 長野市 processes the most records, so pays the most
