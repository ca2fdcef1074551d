"""費用按分 (issue 18): each method on a three-member group, against yen computed by hand,
remainders included; the shares always sum to the cost."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

GROUP = ROOT / "mappings" / "sakura_cloud"


def _group(tmp_path: Path, members: list[dict], apportionment: str = "") -> Path:
    """The bundled group's folder copied, its group file with these members' extra keys (and
    ``apportionment``); wakaba (若葉村) without its tax mapping when ``no_tax`` is set."""
    (tmp_path / ".ikou-root").write_text("", encoding="utf-8")  # the copy's project (mapping paths stay in it)
    folder = tmp_path / "sakura_cloud"
    shutil.copytree(GROUP, folder)
    (tmp_path / "sakuragaoka_991015.yaml").write_text((ROOT / "mappings/sakuragaoka_991015.yaml").read_text(
        encoding="utf-8"), encoding="utf-8")
    for name in ("midori_991023.yaml", "wakaba_991031.yaml", "review_decisions_991015.csv"):
        if (ROOT / "mappings" / name).exists():
            shutil.copy(ROOT / "mappings" / name, tmp_path / name)
    text = (folder / "group.yaml").read_text(encoding="utf-8")
    for m in members:
        anchor = f'  - code: "{m["code"]}"\n'
        extra = "".join(f"    {k}: {v}\n" for k, v in m.items() if k not in ("code", "no_tax"))
        text = text.replace(anchor, anchor + extra)
        if m.get("no_tax"):
            text = text.replace("mappings: [../wakaba_991031.yaml, wakaba_tax.yaml]", "mappings: [../wakaba_991031.yaml]")
    path = folder / "group.yaml"
    path.write_text(text + apportionment, encoding="utf-8")
    return path


def _yen(result) -> dict[str, int]:
    assert result.exit_code == 0, result.output
    return {m["code"]: m["yen"] for m in json.loads(result.output)["members"]}


def test_equal_share_and_population_by_hand(tmp_path):
    """10,000,001 yen, 30 % in equal parts, 70 % by population 50,000 / 30,000 / 20,000:
    1,000,000.33… + 3,500,000.35 = 4,500,000.68…; 3,100,000.54…; 2,400,000.47…; floors sum to
    10,000,000; the one yen left goes to the largest remainder (.68…, 桜ヶ丘市)."""
    path = _group(tmp_path, [{"code": "991015", "population": 50000}, {"code": "991023", "population": 30000},
                             {"code": "991031", "population": 20000}])
    result = run_cli("group", "apportion", path, "--cost", "10,000,001", "--method", "equal-population",
                     "--fixed-share", "0.3", "--json")
    assert _yen(result) == {"991015": 4_500_001, "991023": 3_100_000, "991031": 2_400_000}


def test_functional_by_hand_with_a_member_without_tax(tmp_path):
    """1,000,001 yen, resident 3 : tax 1; 若葉村 runs no tax: resident 750,000.75 in thirds
    (250,000.25 each), tax 250,000.25 in halves (125,000.125) -> 375,000.375, 375,000.375,
    250,000.25; one yen left: the tie between the first two goes to the group file's order."""
    path = _group(tmp_path, [{"code": "991031", "no_tax": True}], "apportionment:\n  functions: {resident: 3, tax: 1}\n")
    result = run_cli("group", "apportion", path, "--cost", "1000001円", "--method", "functional", "--json")
    assert _yen(result) == {"991015": 375_001, "991023": 375_000, "991031": 250_000}


def test_equal_reduction_by_hand(tmp_path):
    """10,000,000 yen against stand-alone costs 6,000,000 / 4,000,000 / 2,000,000: 5,000,000,
    3,333,333.33…, 1,666,666.66…; the yen left to the larger remainder (.66…, 若葉村); every
    member pays 83.33 % of its stand-alone cost."""
    path = _group(tmp_path, [{"code": "991015", "standalone_cost": 6000000},
                             {"code": "991023", "standalone_cost": 4000000},
                             {"code": "991031", "standalone_cost": 2000000}])
    result = run_cli("group", "apportion", path, "--cost", "10000000", "--method", "equal-reduction", "--json")
    assert _yen(result) == {"991015": 5_000_000, "991023": 3_333_333, "991031": 1_666_667}
    assert "83.3333%" in json.loads(result.output)["notes"][0]


def test_records_and_population_from_out_sum_to_the_cost(tmp_path):
    """On the group's OUT: records from the runs, population from the landed residents; the yen
    sum to the cost and each is within one yen of its share; the table lands in OUT for the report."""
    from ikou.fixtures.group import generate_group
    from tests.conftest import query

    generate_group(tmp_path / "in", scale=0.1)
    out = tmp_path / "out"
    run = run_cli("migrate-group", GROUP / "group.yaml", "--input-root", tmp_path / "in", "--out", out, "--jobs", "2")
    assert run.exit_code in (0, 1), run.output
    for method in ("records", "equal-population"):
        result = run_cli("group", "apportion", GROUP / "group.yaml", "--cost", "12,000,000", "--method", method,
                         "--out", out, "--fixed-share", "0.5", "--json")
        table = json.loads(result.output)
        assert result.exit_code == 0 and sum(m["yen"] for m in table["members"]) == 12_000_000
        for m in table["members"]:
            assert abs(m["yen"] - 12_000_000 * float(m["share"])) <= 1
    people = query(out, "select municipality_code as c, count(distinct atena_number) as n from resident r "
                        "where resident_status = '1' and not exists (select 1 from resident s where "
                        "s.municipality_code = r.municipality_code and s.atena_number = r.atena_number and "
                        "(s.history_number > r.history_number or (s.history_number = r.history_number and "
                        "coalesce(s.history_branch_number, 0) > coalesce(r.history_branch_number, 0)))) group by 1")
    bases = {m["code"]: m["basis"] for m in table["members"]}
    for code, n in people.iter_rows():
        assert bases[code] == f"population {n:,}"
    assert json.loads((out / "apportionment.json").read_text(encoding="utf-8"))["method"] == "equal-population"


def test_a_method_without_its_data_says_what_is_missing(tmp_path):
    result = run_cli("group", "apportion", GROUP / "group.yaml", "--cost", "1,000", "--method", "equal-reduction")
    assert result.exit_code == 2 and "standalone_cost" in result.output
    result = run_cli("group", "apportion", GROUP / "group.yaml", "--cost", "abc", "--method", "records")
    assert result.exit_code == 2 and "--cost" in result.output


@pytest.mark.parametrize("cost", [1, 2, 7, 1_000_003])
def test_shares_always_sum_to_the_cost(cost):
    from fractions import Fraction

    from ikou.apportion import exact_yen
    shares = [Fraction(1, 3), Fraction(1, 3), Fraction(1, 3)]
    yen = exact_yen(cost, shares)
    assert sum(yen) == cost and max(yen) - min(yen) <= 1 and yen == sorted(yen, reverse=True)
