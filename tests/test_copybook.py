"""``ikou copybook``: COBOL copybooks read into fixed-width sources. A named case per rule of
the reader (sizes from PIC and USAGE, SIGN, OCCURS, REDEFINES, FILLER, source formats, the
refusals), then round trips against GnuCOBOL as the oracle: the copybooks tests/cobol's programs
are compiled with, imported, the files they wrote migrated through the generated mapping, every
value equal to what COBOL itself displayed."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from ikou.copybook import parse_copybook
from ikou.errors import IkouError
from tests.cobol_oracle import COBOL, run_cobol, write_mapping
from tests.conftest import query, run_cli


def book(tmp_path: Path, text: str, name: str = "rec.cpy"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return parse_copybook(path)


def fields(view) -> dict[str, tuple]:
    return {f.name: (f.offset, f.length, f.type, f.digits, f.scale, f.signed, f.sign) for f in view.fields}


def test_sizes_follow_pic_and_usage(tmp_path):
    b = book(tmp_path, """\
       01 REC.
          05 A PIC X(10).
          05 B PIC 9(5).
          05 C PIC S9(7)V99 COMP-3.
          05 D PIC S9(8) COMP-3.
          05 E PIC S9(4) COMP.
          05 F PIC 9(9) BINARY.
          05 G PIC S9(18) COMP-4.
          05 H PIC S9(9) COMP-5.
          05 I COMP-1.
          05 J COMP-2.
          05 K PIC N(5).
          05 L PIC S9(3)V9(2) SIGN LEADING SEPARATE.
          05 M PIC 9(3)PP.
          05 N PIC SVPP99 PACKED-DECIMAL.
          05 O PIC ZZ,ZZ9.99-.
""")
    assert fields(b.views[0]) == {
        "A": (0, 10, "text", None, 0, None, None), "B": (10, 5, "zoned", 5, 0, None, None),
        "C": (15, 5, "packed", 9, 2, None, None),  # ceil((9 + 1) / 2)
        "D": (20, 5, "packed", 8, 0, None, None),  # an even digit count still has its sign nibble
        "E": (25, 2, "binary", 4, 0, True, None), "F": (27, 4, "binary", 9, 0, False, None),
        "G": (31, 8, "binary", 18, 0, True, None), "H": (39, 4, "native_binary", 9, 0, True, None),
        "I": (43, 4, "float", None, 0, None, None), "J": (47, 8, "float", None, 0, None, None),
        "K": (55, 10, "kanji", None, 0, None, None),  # PIC N: two bytes a character
        "L": (65, 6, "zoned", 5, 2, None, "leading_separate"),  # the sign takes a byte of its own
        "M": (71, 3, "zoned", 3, -2, None, None),  # 999PP: the stored 123 is 12300
        "N": (74, 2, "packed", 2, 4, None, None),  # VPP99: .00dd
        "O": (76, 10, "text", None, 0, None, None),  # edited: text as printed
    }
    assert b.record_length == 86
    assert b.views[0].fields[-1].edited


def test_usage_and_sign_are_inherited_from_the_group(tmp_path):
    b = book(tmp_path, """\
       01 REC.
          05 AMOUNTS USAGE IS COMP-3.
             10 A PIC S9(5).
             10 B PIC S9(7)V99 DISPLAY.
          05 SIGNED SIGN IS TRAILING SEPARATE CHARACTER.
             10 C PIC S9(3).
""")
    assert fields(b.views[0]) == {"A": (0, 3, "packed", 5, 0, None, None), "B": (3, 9, "zoned", 9, 2, None, None),
                                  "C": (12, 4, "zoned", 3, 0, None, "trailing_separate")}


def test_occurs_suffixes_each_occurrence_nested_too(tmp_path):
    b = book(tmp_path, """\
       01 REC.
          05 KEY PIC X(2).
          05 ROW OCCURS 2 TIMES INDEXED BY RX.
             10 CELL PIC 9(2) OCCURS 3.
             10 TOTAL PIC 9(3).
""")
    assert [(f.name, f.offset) for f in b.views[0].fields] == [
        ("KEY", 0), ("CELL-1-1", 2), ("CELL-1-2", 4), ("CELL-1-3", 6), ("TOTAL-1", 8),
        ("CELL-2-1", 11), ("CELL-2-2", 13), ("CELL-2-3", 15), ("TOTAL-2", 17)]
    assert b.record_length == 20


def test_each_redefinition_is_a_record_view_of_the_same_area(tmp_path):
    b = book(tmp_path, """\
       01 REC.
          05 KIND PIC X.
          05 BODY PIC X(10).
          05 PERSON REDEFINES BODY.
             10 NAME PIC X(6).
             10 BORN PIC 9(4).
          05 MONEY REDEFINES BODY.
             10 AMOUNT PIC S9(7) COMP-3.
             10 FILLER PIC X(6).
          05 TAIL PIC X(2).
""")
    assert [(v.name, v.length) for v in b.views] == [("REC", 13), ("PERSON", 13), ("MONEY", 13)]
    assert [f.name for f in b.view("rec").fields] == ["KIND", "BODY", "TAIL"]
    assert fields(b.view("PERSON")) == {"KIND": (0, 1, "text", None, 0, None, None),
                                        "NAME": (1, 6, "text", None, 0, None, None),
                                        "BORN": (7, 4, "zoned", 4, 0, None, None),
                                        "TAIL": (11, 2, "text", None, 0, None, None)}
    money = b.view("MONEY")
    assert [(f.name, f.offset, f.length, f.filler) for f in money.fields] == [
        ("KIND", 0, 1, False), ("AMOUNT", 1, 4, False), ("FILLER-5", 5, 6, True), ("TAIL", 11, 2, False)]


def test_several_01_records_are_views_of_the_longest_area(tmp_path):
    b = book(tmp_path, (COBOL / "zeirec.cpy").read_text(encoding="utf-8"))
    assert [(v.name, v.length) for v in b.views] == [("DATA-REC", 39), ("HEAD-REC", 39), ("TRAIL-REC", 39)]
    assert b.record_length == 39


def test_fixed_format_sequence_numbers_comments_and_continuation(tmp_path):
    b = book(tmp_path, """\
000100* a comment line
000200 01 REC.                                                          IGNORED1
000300     05 LONG-NAME PIC X(3). *> an inline comment
000400/    05 PAGE-EJECTED PIC X.
000500D    05 DEBUG-ONLY PIC X.
000600     05 SPLIT PIC 9(
000700-        4).
""")
    assert [(f.name, f.length) for f in b.views[0].fields] == [("LONG-NAME", 3), ("SPLIT", 4)]


def test_free_format_and_a_copybook_without_its_01(tmp_path):
    b = book(tmp_path, "*> free format, fields only\n  05 ALPHA PIC X(4). *> inline\n  05 BETA PIC 99.\n",
             name="kojin.cpy")
    assert [(v.name, v.length) for v in b.views] == [("KOJIN", 6)]


def test_a_cp932_copybook_reads_with_japanese_comments(tmp_path):
    path = tmp_path / "jp.cpy"
    path.write_bytes("      * 住民記録の項目\n       01 REC.\n          05 SHIMEI PIC N(10).\n".encode("cp932"))
    assert parse_copybook(path).views[0].fields[0].length == 20


def test_every_problem_is_reported_at_once_naming_the_line(tmp_path):
    with pytest.raises(IkouError) as exc:
        book(tmp_path, """\
       01 REC.
          05 A PIC X(4) SYNC.
          05 B PIC 9(3) OCCURS 1 TO 5 DEPENDING ON A.
          05 C PIC X(2) USAGE COMP-X.
          05 D PIC X(3) COMP-3.
          05 E PIC S9(19) COMP.
          05 F PIC Q(3).
          05 A PIC X.
       66 G RENAMES A THRU B.
          COPY OTHERS.
""")
    text = "\n".join(exc.value.problems)
    for expected in ("line 2: SYNCHRONIZED", "line 3: OCCURS … DEPENDING ON", "line 4: USAGE COMP-X",
                     "line 5: D: PIC X(3) is not numeric", "line 6: E: binary numbers hold up to 18 digits",
                     "line 7: F: PIC Q(3) is not a picture", "line 9: 66 RENAMES", "line 10: COPY OTHERS",
                     "A is declared twice"):
        assert expected in text, (expected, text)


def test_the_command_writes_fillers_dropped_and_the_record_type_codes(tmp_path):
    out = tmp_path / "views.yaml"
    result = run_cli("copybook", COBOL / "viewrec.cpy", "--type-field", "V-TYPE", "--type-code", "V-PERSON-BODY=P",
                     "--type-code", "V-ACCOUNT-BODY=A", "--record", "V-PERSON-BODY", "--record", "V-ACCOUNT-BODY",
                     "--out", out)
    assert result.exit_code == 0, result.output
    person, account = yaml.safe_load(out.read_text(encoding="utf-8"))["sources"]
    assert (person["record_type"], person["data_codes"], person["other_codes"]) == (
        {"offset": 0, "length": 1}, ["P"], ["A"])
    assert account["fields"]["A-AMOUNT-3"] == {"offset": 33, "length": 6, "type": "packed", "digits": 11,
                                               "scale": 2}
    assert person["unmapped_columns"] == {"FILLER-43": {"drop": "FILLER: no data (bytes 43-68)"}}
    again = run_cli("copybook", COBOL / "viewrec.cpy", "--out", out)
    assert again.exit_code == 2 and "not overwritten" in again.output
    wrong = run_cli("copybook", COBOL / "viewrec.cpy", "--type-field", "V-TYPE", "--type-code", "NOPE=P")
    assert wrong.exit_code == 2 and "names no record view: NOPE" in wrong.output, wrong.output


# -- round trips against GnuCOBOL ------------------------------------------------------------------

def imported(tmp_path: Path, copybook: str, *options: str) -> list[dict]:
    out = tmp_path / f"{Path(copybook).name}.yaml"
    result = run_cli("copybook", COBOL / copybook, *options, "--out", out)
    assert result.exit_code == 0, result.output
    return yaml.safe_load(out.read_text(encoding="utf-8"))["sources"]


def test_usagerec_imports_to_the_byte_table_written_by_hand(tmp_path):
    from tests.test_cobol_usages import FIELDS, RECORD

    (source,) = imported(tmp_path, "usagerec.cpy")
    assert source["record_length"] == RECORD
    got = {name.removeprefix("R-").lower(): f for name, f in source["fields"].items()}
    assert got.pop("id") == {"offset": 0, "length": 6, "type": "zoned", "digits": 6}
    assert list(got) == list(FIELDS)
    for name, (offset, length, kind, extra) in FIELDS.items():
        keys = {k: yaml.safe_load(v) for k, v in (p.split(": ") for p in extra.split(", ") if p)}
        f = got[name]
        assert (f["offset"], f["length"], f.get("type", "text")) == (offset, length, kind), name
        assert {k: f[k] for k in keys} == keys, name


def test_usages_migrate_through_the_imported_mapping_as_cobol_displayed_them(tmp_path):
    from tests.test_cobol_usages import FIELDS, FLOATS, LAYOUT

    folder = run_cobol("usages", tmp_path / "cobol")
    (tmp_path / "export").mkdir()
    (folder / "usages.dat").rename(tmp_path / "export" / "USAGES.DAT")
    (source,) = imported(tmp_path, "usagerec.cpy")
    (tmp_path / "usages.yaml").write_text(LAYOUT, encoding="utf-8")
    source.update(name="values", table="values", files="USAGES.DAT", newline="none",
                  items={"municipality_code": {"value": "372013"}, "record_id": "R-ID",
                         **{n: f"R-{n.upper()}" for n in FIELDS}})
    mapping = write_mapping(tmp_path / "m.yaml", tmp_path / "usages.yaml", [source])
    out = tmp_path / "out"
    result = run_cli("migrate", "--mapping", mapping, "--input", tmp_path / "export", "--out", out)
    assert result.exit_code == 0, result.output
    landed = query(out, 'select * from "values" order by record_id')
    rows = [line.split(",") for line in (folder / "usages.csv").read_text(encoding="ascii").splitlines()]
    assert landed.height == len(rows) == 2000
    for k, name in enumerate(FIELDS):
        got = [Decimal(v) if name in FLOATS else Decimal(str(v)) for v in landed[name].to_list()]
        assert got == [Decimal(r[k + 1].strip()) for r in rows], name


def test_the_tax_export_migrates_through_its_imported_copybook_exact_to_the_trailer(tmp_path):
    from tests.test_cobol_usages import TAX_LAYOUT

    folder = run_cobol("tax", tmp_path / "cobol")
    paid, assessed, negative, negatives = (int(v) for v in (folder / "taxsum.txt").read_text().split())
    (tmp_path / "export").mkdir()
    (folder / "ZEI.DAT").rename(tmp_path / "export" / "ZEI.DAT")
    data, head, trail = imported(tmp_path, "zeirec.cpy", "--type-field", "D-TYPE", "--type-code", "DATA-REC=2",
                                 "--type-code", "HEAD-REC=1", "--type-code", "TRAIL-REC=9")
    assert (data["data_codes"], data["other_codes"]) == (["2"], ["1", "9"])
    t = trail["fields"]
    data.update(name="payments", table="payments", files="ZEI.DAT", newline="lf", short_records="pad",
                overpunch="auto", header_codes=["1"], other_codes=[],
                trailer={"code": "9", "count": t["T-COUNT"], "sum_of": "D-PAID", "sum": t["T-HASH"]},
                unmapped_columns={"D-TYPE": {"drop": "the record type"}},
                items={"municipality_code": {"value": "372013"},
                       # PIC 9(10) is a number: its leading zeros kept by saying how wide it is
                       "atena_number": {"column": "D-ATENA", "pad": 10},
                       "fiscal_year": "D-YEAR", "instalment": "D-TERM", "assessed_amount": "D-ASSESS",
                       "paid_amount": "D-PAID"})
    (tmp_path / "tax.yaml").write_text(TAX_LAYOUT, encoding="utf-8")
    mapping = write_mapping(tmp_path / "m.yaml", tmp_path / "tax.yaml", [data])
    out = tmp_path / "out"
    result = run_cli("migrate", "--mapping", mapping, "--input", tmp_path / "export", "--out", out, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert (summary["totals"]["landed"], summary["totals"]["rejected"]) == (2000, 0)
    totals = {"assessed_amount": 0, "paid_amount": 0}
    for m in summary["money"]:
        assert m["reconciled"]
        totals[m["item"]] += m["landed"]
    assert totals == {"assessed_amount": assessed, "paid_amount": paid}
    landed = query(out, "select min(atena_number) as a, sum(paid_amount) filter (where paid_amount < 0) as neg "
                        "from payments")
    assert (landed["a"][0], landed["neg"][0]) == ("1000000001", negative)


def test_a_number_feeding_text_without_its_width_is_refused_at_load(tmp_path):
    from ikou.mapping import load_mapping
    from tests.test_cobol_usages import TAX_LAYOUT

    data, *_ = imported(tmp_path, "zeirec.cpy", "--record", "DATA-REC")
    data.update(name="payments", table="payments", files="ZEI.DAT", newline="lf",
                unmapped_columns={"D-TYPE": {"drop": "the record type"}},
                items={"municipality_code": {"value": "372013"}, "atena_number": "D-ATENA", "fiscal_year": "D-YEAR",
                       "instalment": "D-TERM", "assessed_amount": "D-ASSESS", "paid_amount": "D-PAID"})
    (tmp_path / "tax.yaml").write_text(TAX_LAYOUT, encoding="utf-8")
    with pytest.raises(IkouError) as exc:
        load_mapping(write_mapping(tmp_path / "m.yaml", tmp_path / "tax.yaml", [data]))
    text = "\n".join(exc.value.problems)
    assert "items.atena_number" in text and "leading zeros would be lost" in text and "pad: 10" in text, text


VIEWS_LAYOUT = """\
layout: cobol_views
name_ja: 再定義テスト
version: "1"
code_tables: {}
tables:
  persons:
    name_ja: 個人
    duplicate_keys: []
    row_key: [record_id]
    items:
      - {id: municipality_code, name_ja: 市区町村コード, type: string, required: true}
      - {id: record_id, name_ja: 番号, type: integer, required: true}
      - {id: name, name_ja: 氏名, type: string}
      - {id: birth, name_ja: 生年月日, type: string}
      - {id: score, name_ja: 点, type: decimal, precision: 5, scale: 2}
  accounts:
    name_ja: 口座
    duplicate_keys: []
    row_key: [record_id]
    items:
      - {id: municipality_code, name_ja: 市区町村コード, type: string, required: true}
      - {id: record_id, name_ja: 番号, type: integer, required: true}
""" + "".join(f"      - {{id: {kind}_{k}, name_ja: {kind}{k}, type: {t}}}\n" for k in (1, 2, 3)
              for kind, t in (("amount", "decimal, precision: 11, scale: 2"), ("count", "integer"),
                              ("flag", "integer"))) + \
    "      - {id: rate, name_ja: 率, type: decimal, precision: 4, scale: 4}\n"


def views_mapping(tmp_path: Path) -> Path:
    person, account = imported(tmp_path, "viewrec.cpy", "--type-field", "V-TYPE", "--type-code", "V-PERSON-BODY=P",
                               "--type-code", "V-ACCOUNT-BODY=A", "--record", "V-PERSON-BODY",
                               "--record", "V-ACCOUNT-BODY")
    dropped = {"V-TYPE": {"drop": "the record type"}, "V-TAIL": {"drop": "END, a record mark"}}
    person.update(name="persons", table="persons", files="VIEWS.DAT", newline="none",
                  unmapped_columns={**person["unmapped_columns"], **dropped},
                  items={"municipality_code": {"value": "372013"}, "record_id": "V-ID", "name": "P-NAME",
                         "birth": {"column": "P-BIRTH", "pad": 8}, "score": "P-SCORE"})
    account.update(name="accounts", table="accounts", files="VIEWS.DAT", newline="none",
                   unmapped_columns={**account["unmapped_columns"], **dropped},
                   items={"municipality_code": {"value": "372013"}, "record_id": "V-ID", "rate": "A-RATE",
                          **{f"{kind}_{k}": f"A-{kind.upper()}-{k}" for k in (1, 2, 3)
                             for kind in ("amount", "count", "flag")}})
    (tmp_path / "views.yaml").write_text(VIEWS_LAYOUT, encoding="utf-8")
    return write_mapping(tmp_path / "m.yaml", tmp_path / "views.yaml", [person, account])


@pytest.fixture(scope="module")
def views(tmp_path_factory) -> tuple[Path, list[list[str]]]:
    folder = run_cobol("views", tmp_path_factory.mktemp("views"))
    rows = [line.rstrip().split(";")[:-1] for line in (folder / "views.csv").read_text(encoding="ascii").splitlines()]
    return folder / "VIEWS.DAT", rows


def test_two_record_views_of_one_file_land_in_their_tables_as_cobol_displayed_them(tmp_path, views):
    data, rows = views
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "VIEWS.DAT").write_bytes(data.read_bytes())
    out = tmp_path / "out"
    result = run_cli("migrate", "--mapping", views_mapping(tmp_path), "--input", tmp_path / "export", "--out", out,
                     "--json")
    assert result.exit_code == 0, result.output
    files = {f["source"]: f for f in json.loads(result.output)["files"]}
    assert {s: (f["landed"], f["skipped_rows"]) for s, f in files.items()} == {"persons": (300, 300),
                                                                               "accounts": (300, 300)}
    report = run_cli("report", out)  # counted back from OUT: the two sources of one file added up
    assert report.exit_code == 0, report.output
    assert "VIEWS.DAT (persons)" in report.output and "VIEWS.DAT (accounts)" in report.output, report.output
    assert "source columns of VIEWS.DAT (accounts): 11 mapped, 3 dropped" in report.output, report.output
    persons = query(out, "select record_id, name, birth, cast(score as varchar) as score from persons order by 1")
    expected = [r for r in rows if r[0] == "P"]
    assert persons.rows() == [(int(r[1]), r[2].rstrip(), r[3], str(Decimal(r[4]))) for r in expected]
    accounts = query(out, "select * exclude (municipality_code) from accounts order by record_id")
    expected = [r for r in rows if r[0] == "A"]
    assert accounts.height == len(expected) == 300
    for got, want in zip(accounts.rows(named=True), expected):
        assert got["record_id"] == int(want[1])
        for k in (1, 2, 3):
            amount, count, flag = want[2 + 3 * (k - 1):5 + 3 * (k - 1)]
            assert (got[f"amount_{k}"], got[f"count_{k}"], got[f"flag_{k}"]) == (
                Decimal(amount), int(count), int(flag)), (got, want)
        assert got["rate"] == Decimal(want[11].replace("-.", "-0.").replace(" .", "0."))


def test_a_reject_names_the_source_that_read_the_shared_file(tmp_path, views):
    data, _ = views
    raw = bytearray(data.read_bytes())
    raw[72 + 9] = 0xAB  # the second record is an account: A-AMOUNT-1's first nibble A is no digit
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "VIEWS.DAT").write_bytes(bytes(raw))
    out = tmp_path / "out"
    result = run_cli("migrate", "--mapping", views_mapping(tmp_path), "--input", tmp_path / "export", "--out", out,
                     "--json")
    assert result.exit_code == 0 and json.loads(result.output)["totals"]["rejected"] == 1, result.output
    rejects = query(out, "select source, source_file, reason_code, byte_offset from rejects")
    assert rejects.rows(named=True) == [{"source": "accounts", "source_file": "VIEWS.DAT",
                                         "reason_code": "invalid_number", "byte_offset": 72}], rejects


def test_inspect_finds_the_record_length_of_cobol_streams(tmp_path, views):
    """Binary and packed fields, and two record types alternating: without a copybook, inspect
    still finds the record length of what COBOL wrote."""
    from ikou.inspect import inspect_file

    data, _ = views
    assert inspect_file(data).record_length == 72
    folder = run_cobol("usages", tmp_path / "cobol")
    assert inspect_file(folder / "usages.dat").record_length == 121


def test_inspect_drafts_a_mapping_from_the_copybook(tmp_path, views):
    folder = run_cobol("tax", tmp_path / "cobol")
    draft = tmp_path / "draft.yaml"
    result = run_cli("inspect", folder / "ZEI.DAT", "--copybook", COBOL / "zeirec.cpy", "--record", "DATA-REC",
                     "--type-field", "D-TYPE", "--type-code", "DATA-REC=2", "--draft-mapping", draft)
    assert result.exit_code == 0, result.output
    assert "record length 39 from the copybook zeirec.cpy" in result.output
    (source,) = yaml.safe_load(draft.read_text(encoding="utf-8"))["sources"]
    (imported_source,) = imported(tmp_path, "zeirec.cpy", "--record", "DATA-REC", "--type-field", "D-TYPE",
                                  "--type-code", "DATA-REC=2")
    assert source["fields"] == imported_source["fields"] and source["data_codes"] == ["2"]
    assert (source["files"], source["newline"], source["short_records"], source["record_length"]) == (
        "ZEI.DAT", "lf", "pad", 39)
    wrong = run_cli("inspect", folder / "ZEI.DAT", "--copybook", COBOL / "zeirec.cpy", "--record-length", "40")
    assert wrong.exit_code == 2 and "the copybook's records are 39 bytes long" in wrong.output, wrong.output
    other = run_cli("inspect", views[0], "--copybook", COBOL / "zeirec.cpy")  # 43,200 bytes: 600 × 72
    assert other.exit_code == 0 and "not a whole number of 39-byte records" in other.output, other.output


@pytest.mark.parametrize("file", ["signs.dat", "ibm.dat"])
def test_every_sign_form_migrates_through_the_imported_copybook(tmp_path, file):
    """signs.cob's record (tests/data/gnucobol: GnuCOBOL's native ASCII signs, and IBM's
    overpunch letters): the SIGN clauses become each field's sign, and every value lands as COBOL
    displayed it."""
    from tests.test_cobol_signs import DATA, LAYOUT, expected

    (source,) = imported(tmp_path, "../data/gnucobol/signrec.cpy")
    assert [f.get("sign") for f in source["fields"].values()] == [None, "leading", "trailing_separate",
                                                                  "leading_separate"]
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "SIGNS.DAT").write_bytes((DATA / file).read_bytes())
    (tmp_path / "signs.yaml").write_text(LAYOUT, encoding="utf-8")
    columns = dict(zip(("trailing", "leading", "trailing_separate", "leading_separate"), source["fields"]))
    source.update(name="amounts", table="amounts", files="SIGNS.DAT", newline="none",
                  items={"municipality_code": {"value": "372013"}, **columns})
    out = tmp_path / "out"
    result = run_cli("migrate", "--mapping", write_mapping(tmp_path / "m.yaml", tmp_path / "signs.yaml", [source]),
                     "--input", tmp_path / "export", "--out", out)
    assert result.exit_code == 0, result.output
    landed = query(out, "select * from amounts")
    truth = sorted(expected().tolist())
    assert landed.height == len(truth) == 2000
    for item in columns:
        assert sorted(int(v) for v in landed[item].to_list()) == truth, item
