"""Hand-over files (投入データ, issue 18): `ikou export` and `ikou verify-handover`.

The round trip on a 自治体クラウド group (three members, resident and tax): export → migrate the
exported files back through the re-import mappings the export wrote → `ikou diff` of the landed
tables finds no difference. verify-handover on the untouched folder, with one byte changed and
with one line deleted. A name with an IVS: CP932 stops naming record, item and character; the
UTF-8 file carries it intact; 縮退 writes it without its selector and lists it. Fixed-width from a
record layout. Two exports of one OUT are byte-identical."""

from __future__ import annotations

import csv
import io
import json
import shutil

import pytest

from ikou.fixtures.group import generate_group
from ikou.layout import load_layout
from tests.conftest import ROOT, copy_mapping, query, run_cli

GROUP = ROOT / "mappings" / "sakura_cloud" / "group.yaml"
KEYS = {"resident": "municipality_code,atena_number,history_number,history_branch_number",
        "tax_assessment": "municipality_code,atena_number,fiscal_year,tax_type,instalment"}
LAYOUT_OF = {"resident": "resident", "tax_assessment": "tax"}


@pytest.fixture(scope="module")
def group_out(tmp_path_factory):
    d = tmp_path_factory.mktemp("handover-group")
    generate_group(d / "in", scale=0.15)
    out = d / "out"
    result = run_cli("migrate-group", GROUP, "--input-root", d / "in", "--out", out, "--jobs", "2")
    assert result.exit_code in (0, 1), result.output  # 1: a member over its reject threshold, landed
    return out


@pytest.fixture(scope="module")
def handover(group_out, tmp_path_factory):
    to = tmp_path_factory.mktemp("handover") / "handover"
    result = run_cli("export", group_out, "--to", to, "--json")
    assert result.exit_code == 0, result.output
    return to, json.loads(result.output)


def test_every_municipality_and_table_gets_a_file_with_its_standard_header(group_out, handover):
    to, manifest = handover
    files = {(f["municipality_code"], f["table"]): f for f in manifest["files"]}
    assert set(files) == {(c, t) for c in ("991015", "991023", "991031") for t in ("resident", "tax_assessment")}
    for (code, table), f in files.items():
        with open(to / f["path"], encoding="utf-8", newline="") as fh:
            rows = list(csv.reader(fh))
        assert rows[0][:3] == list(f["columns"][:3]) and tuple(rows[0]) == tuple(f["columns"])
        landed = query(group_out, f"select count(*) as n from {table} where municipality_code = '{code}'")["n"][0]
        assert len(rows) - 1 == f["records"] == landed
    resident = files[("991015", "resident")]
    assert resident["columns"][:2] == ["市区町村コード", "宛名番号"] and resident["encoding"] == "utf-8"
    # the manifest's money sums are the report's (金額照合), taken on the file
    tax = files[("991015", "tax_assessment")]
    landed = query(group_out, "select sum(assessed_amount)::hugeint as s from tax_assessment "
                              "where municipality_code = '991015'")["s"][0]
    assert {m["item"]: m["total"] for m in tax["money_sums"]}["assessed_amount"] == str(landed)


def test_an_impossible_date_is_written_as_the_day_the_register_holds(group_out, handover):
    """みどり町 writes dates as GYYMMDD; 4300431 (平成30年4月31日) has no such day, and the standard
    requires accepting it: the hand-over writes 2018-04-31 (an oracle of its own: era start year
    + YY - 1)."""
    to, manifest = handover
    impossible = query(group_out, "select atena_number, history_number, birth_date_text from resident "
                                  "where municipality_code = '991023' and birth_date_status = 'impossible'")
    assert impossible.height >= 1
    start = {"1": 1868, "2": 1912, "3": 1926, "4": 1989, "5": 2019}
    with open(to / "991023_resident.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    at, atena, history = rows[0].index("生年月日"), rows[0].index("宛名番号"), rows[0].index("個人履歴番号")
    written = {(r[atena], r[history]): r[at] for r in rows[1:]}
    for number, version, text in impossible.iter_rows():
        want = f"{start[text[0]] + int(text[1:3]) - 1}-{text[3:5]}-{text[5:7]}"
        assert written[(number, str(version))] == want, (text, written[(number, str(version))])


def test_the_round_trip_through_the_reimport_mappings_finds_no_difference(group_out, handover, tmp_path):
    to, manifest = handover
    back = tmp_path / "back"
    for mapping in sorted(to.glob("mapping_*.yaml")):
        result = run_cli("migrate", "--mapping", mapping, "--input", to, "--out", back)
        assert result.exit_code == 0, (mapping.name, result.output)
    assert len(list(to.glob("mapping_*.yaml"))) == 6
    for table, key in KEYS.items():
        # every standard item must come back equal; a date's companions (its status and the text
        # the legacy system wrote, ikou's audit trail) and the kept legacy columns stay in OUT
        companions = [f"{it.id}{sfx}" for it in load_layout(LAYOUT_OF[table]).tables[table].items if it.is_date
                      for sfx in ("_status", "_text")]
        ignore = [a for c in ["extras", *companions] for a in ("--ignore", c)]
        result = run_cli("diff", "--left", group_out / "ikou.duckdb", "--left-table", table,
                         "--right", back / "ikou.duckdb", "--right-table", table, "--key", key, *ignore, "--json")
        assert result.exit_code == 0, result.output
        summary = json.loads(result.output)
        assert summary["left_rows"] == summary["right_rows"] > 0, summary


def test_verify_handover_passes_an_untouched_folder(handover):
    to, manifest = handover
    result = run_cli("verify-handover", to)
    assert result.exit_code == 0, result.output
    assert "0 difference(s)" in result.output and "as listed in the manifest" in result.output


def test_verify_handover_names_a_changed_byte_and_a_deleted_line(handover, tmp_path):
    to, manifest = handover
    copy = tmp_path / "received"
    shutil.copytree(to, copy)
    resident = next(f for f in manifest["files"] if f["table"] == "resident" and f["municipality_code"] == "991023")
    tax = next(f for f in manifest["files"] if f["table"] == "tax_assessment" and f["municipality_code"] == "991015")
    data = bytearray((copy / resident["path"]).read_bytes())
    at = data.index(b"\r\n") + 2 + len("991023,") + 3  # a digit of the first record's 宛名番号
    data[at] = ord("9") if data[at] != ord("9") else ord("8")
    (copy / resident["path"]).write_bytes(bytes(data))
    lines = (copy / tax["path"]).read_bytes().split(b"\r\n")
    (copy / tax["path"]).write_bytes(b"\r\n".join(lines[:3] + lines[4:]))  # the third record gone
    result = run_cli("verify-handover", copy, "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    got = {(d["file"], d["what"]) for d in report["differences"]}
    assert {(resident["path"], "sha256"), (resident["path"], "hash_total")} <= got
    assert {(tax["path"], "sha256"), (tax["path"], "bytes"), (tax["path"], "records")} <= got
    records = next(d for d in report["differences"] if d["file"] == tax["path"] and d["what"] == "records")
    assert records["expected"] == f"{tax['records']:,}" and records["found"] == f"{tax['records'] - 1:,}"
    assert not {d["file"] for d in report["differences"]} - {resident["path"], tax["path"]}
    (copy / resident["path"]).unlink()
    result = run_cli("verify-handover", copy)
    assert result.exit_code == 1 and f"{resident['path']}: missing" in result.output
    (copy / "manifest.json").unlink()
    assert run_cli("verify-handover", copy).exit_code == 2


def test_two_exports_of_one_out_are_byte_identical(group_out, handover, tmp_path):
    to, _ = handover
    again = tmp_path / "again"
    assert run_cli("export", group_out, "--to", again).exit_code == 0
    first = {p.name: p.read_bytes() for p in to.iterdir()}
    assert first == {p.name: p.read_bytes() for p in again.iterdir()}


# -- characters CP932 cannot hold --------------------------------------------------------------------

IVS_NAME = "葛\U000E0100城　花子"  # 葛 with an IVS (the 葛 of 葛飾 with its registered glyph)


@pytest.fixture(scope="module")
def ivs_out(tmp_path_factory):
    """A clean export of the fixture municipality in UTF-8, one name carrying an IVS."""
    from ikou.fixtures.generator import generate

    clean = tmp_path_factory.mktemp("ivs-clean")
    generate(clean, residents=1500, defects=False)
    folder = tmp_path_factory.mktemp("ivs-export")
    for p in clean.iterdir():
        if p.name.startswith("JUMIN_"):
            text = p.read_bytes().decode("cp932")
            records = list(csv.reader(io.StringIO(text, newline="")))
            col = records[2].index("氏名")
            row = next(r for r in records[3:] if len(r) > col and r[col] and r[records[2].index("住民種別")] == "J")
            line = ",".join(row)
            assert line in text
            text = text.replace(line, ",".join(IVS_NAME if i == col else v for i, v in enumerate(row)), 1)
            (folder / p.name).write_bytes(text.encode("utf-8"))
    mapping = copy_mapping(tmp_path_factory.mktemp("ivs-mapping"), **{"encoding: cp932": "encoding: utf-8"})
    out = tmp_path_factory.mktemp("ivs-out")
    result = run_cli("migrate", "--mapping", mapping, "--input", folder, "--out", out)
    assert result.exit_code in (0, 1), result.output
    assert query(out, f"select count(*) as n from resident where name = '{IVS_NAME}'")["n"][0] >= 1
    return out


def test_cp932_stops_at_an_ivs_naming_record_item_and_character(ivs_out, tmp_path):
    to = tmp_path / "cp932"
    result = run_cli("export", ivs_out, "--to", to, "--encoding", "cp932")
    assert result.exit_code == 2, result.output
    assert "991015_resident.csv record" in result.output and "atena_number=" in result.output
    assert ", name: " in result.output and "U+E0100" in result.output
    assert not to.exists()  # nothing written


def test_utf8_carries_the_ivs_intact(ivs_out, tmp_path):
    to = tmp_path / "utf8"
    assert run_cli("export", ivs_out, "--to", to).exit_code == 0
    assert IVS_NAME in (to / "991015_resident.csv").read_text(encoding="utf-8")


def test_degenerate_writes_the_base_character_and_lists_it(ivs_out, tmp_path):
    to = tmp_path / "degenerate"
    result = run_cli("export", ivs_out, "--to", to, "--encoding", "cp932", "--unmappable", "degenerate", "--json")
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.output)
    listed = [d for d in manifest["degenerated"] if d["item"] == "name"]
    assert listed and listed[0]["original"].startswith("U+E0100") and listed[0]["written"] == "(nothing)"
    text = (to / "991015_resident.csv").read_bytes().decode("cp932")
    assert IVS_NAME.replace("\U000E0100", "") in text
    assert run_cli("verify-handover", to).exit_code == 0


# -- fixed-width -------------------------------------------------------------------------------------

def test_fixed_width_from_a_record_layout(migrated, tmp_path):
    out, _ = migrated
    layout = tmp_path / "resident_fixed.yaml"
    layout.write_text("table: resident\nencoding: cp932\nrecord_end: crlf\nfields:\n"
                      "  - {item: atena_number, length: 15, align: right, pad: '0'}\n"
                      "  - {item: history_number, length: 4, pad: '0'}\n"
                      "  - {item: name, length: 40}\n"
                      "  - {item: birth_date, offset: 64, length: 10}\n", encoding="utf-8")
    to = tmp_path / "fixed"
    result = run_cli("export", out, "--to", to, "--record-layout", layout, "--json")
    assert result.exit_code == 0, result.output
    f = next(f for f in json.loads(result.output)["files"] if f["table"] == "resident")
    data = (to / f["path"]).read_bytes()
    assert f["format"] == "fixed" and f["record_length"] == 76 and len(data) == 76 * f["records"]
    first = query(out, "select atena_number, history_number, name from resident order by atena_number, "
                       "history_number, history_branch_number limit 1").row(0)
    record = data[:76]
    assert record[:15] == first[0].rjust(15, "0").encode() and record[15:19] == str(first[1]).rjust(4, "0").encode()
    assert record[19:59].decode("cp932").rstrip(" ") == first[2] and record[74:] == b"\r\n"
    assert run_cli("verify-handover", to).exit_code == 0
    # a field too short for its values stops the export, naming record and item
    layout.write_text(layout.read_text(encoding="utf-8").replace("item: name, length: 40", "item: name, length: 4"),
                      encoding="utf-8")
    result = run_cli("export", out, "--to", tmp_path / "short", "--record-layout", layout)
    assert result.exit_code == 2 and ", name: " in result.output and "bytes in a field of 4" in result.output
    assert not (tmp_path / "short").exists()
    # zeros pad numbers on the left only
    layout.write_text(layout.read_text(encoding="utf-8").replace("align: right, pad: '0'", "pad: '0'"), encoding="utf-8")
    result = run_cli("export", out, "--to", tmp_path / "zeros", "--record-layout", layout)
    assert result.exit_code == 2 and "fields[0] (atena_number): pad '0' needs align: right" in result.output
