"""Every numeric USAGE, read exactly as COBOL wrote it: tests/cobol/usages.cob, compiled with
GnuCOBOL's cobc here, writes 2,000 records of binary (COMP, BINARY), COMP-5, COMP-3 to 18 and 31
digits, P scaling, zoned to 31 digits, COMP-1 and COMP-2, and the same values as COBOL's own
DISPLAY editing wrote them (usages.csv): the oracle, not written by ikou. Any value refused or
read differently fails. CI (.ci/run) requires cobc (IKOU_REQUIRE_COBOL=1; `make cobol` installs
Debian's gnucobol); elsewhere the tests skip, saying so."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest

from ikou.codecs.numeric import decode_number
from ikou.mapping import FieldSpec
from tests.cobol_oracle import run_cobol
from tests.conftest import query, run_cli

RECORD = 121
# name -> (offset, length, type, extra mapping keys, scale): the layout of usages.cob's OUT-REC
FIELDS = {
    "b2s": (6, 2, "binary", "signed: true"), "b2u": (8, 2, "binary", "signed: false"),
    "b4s": (10, 4, "binary", "signed: true"), "b8s": (14, 8, "binary", "signed: true, digits: 18"),
    "b8u": (22, 8, "binary", "signed: false, digits: 18"), "n2u": (30, 2, "native_binary", "signed: false"),
    "n4s": (32, 4, "native_binary", "signed: true"), "n8s": (36, 8, "native_binary", "signed: true"),
    "p18": (44, 10, "packed", "digits: 18"), "p31": (54, 16, "packed", "digits: 31"),
    "psc": (70, 5, "zoned", "scale: -2"), "zsc": (75, 3, "zoned", "scale: -3"),
    "z31": (78, 31, "zoned", "digits: 31"), "c1": (109, 4, "float", ""), "c2": (113, 8, "float", ""),
}
FLOATS = ("c1", "c2")


@pytest.fixture(scope="module")
def usages(tmp_path_factory) -> tuple[np.ndarray, dict[str, list[str]]]:
    folder = run_cobol("usages", tmp_path_factory.mktemp("cobol"))
    raw = (folder / "usages.dat").read_bytes()
    assert len(raw) == 2000 * RECORD, f"usages.dat holds {len(raw)} bytes: the record layout changed"
    rows = [line.split(",") for line in (folder / "usages.csv").read_text(encoding="ascii").splitlines()]
    columns = {name: [r[k + 1].strip() for r in rows] for k, name in enumerate(FIELDS)}
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, RECORD), columns


def spec(name: str) -> FieldSpec:
    offset, length, kind, extra = FIELDS[name]
    keys = dict(part.split(": ") for part in extra.split(", ") if part)
    return FieldSpec(name=name, offset=offset, length=length, type=kind, scale=int(keys.get("scale", 0)),
                     signed={"true": True, "false": False}.get(keys.get("signed", "")))


def cobol_value(text: str) -> Decimal:
    """COBOL's edited display (-000123, 000123, -0001234.125) as an exact number; a P-scaled
    field's display already holds the scaled value."""
    return Decimal(text)


@pytest.mark.parametrize("name", list(FIELDS))
def test_every_usage_reads_as_cobol_displayed_it(usages, name):
    rows, truth = usages
    f = spec(name)
    values, bad = decode_number(rows[:, f.offset:f.offset + f.length], f, zone=0x3)
    assert (bad == -1).all(), f"{int((bad >= 0).sum())} of 2,000 values refused"
    expected = [cobol_value(t) for t in truth[name]]
    if name in FLOATS:
        got = [Decimal(float(v)) for v in values]  # the double's exact value
    else:
        times = 10 ** -f.scale if f.scale < 0 else 1  # in integers: Decimal arithmetic rounds to 28 digits
        got = [Decimal(int(v) * times) for v in (values.to_list() if hasattr(values, "to_list") else values.tolist())]
    assert got == expected
    assert any(v < 0 for v in expected) == (name not in ("b2u", "b8u", "n2u", "zsc"))


LAYOUT = """\
layout: usages
name_ja: 用途テスト
version: "1"
code_tables: {}
tables:
  values:
    name_ja: 値
    duplicate_keys: []
    row_key: []
    items:
      - {id: municipality_code, name_ja: 市区町村コード, type: string, required: true}
      - {id: record_id, name_ja: 番号, type: integer}
""" + "".join(f"      - {{id: {name}, name_ja: {name}, type: {kind}}}\n" for name, kind in (
    [(n, "money") for n in ("b2s", "b2u", "b4s", "b8s", "b8u", "n2u", "n4s", "n8s", "p18", "psc", "zsc")]
    + [("p31", "decimal, precision: 31, scale: 0"), ("z31", "decimal, precision: 31, scale: 0"),
       ("c1", "float"), ("c2", "float")]))


def write_mapping(folder: Path, fields: dict[str, str], items: dict[str, str], encoding: str = "cp932") -> Path:
    (folder / "usages.yaml").write_text(LAYOUT, encoding="utf-8")
    mapping = folder / "m.yaml"
    mapping.write_text(f"""\
municipality: {{code: "372013", name: 高松市}}
layout: {folder / 'usages.yaml'}
sources:
  - name: values
    table: values
    files: "USAGES.DAT"
    format: fixed
    encoding: {encoding}
    record_length: {RECORD}
    newline: none
    fields:
""" + "".join(f"      {name}: {text}\n" for name, text in fields.items()) + """\
    items:
      municipality_code: {value: "372013"}
""" + "".join(f"      {item}: {column}\n" for item, column in items.items()), encoding="utf-8")
    return mapping


def field_yaml(name: str) -> str:
    offset, length, kind, extra = FIELDS[name]
    return f"{{offset: {offset}, length: {length}, type: {kind}" + (f", {extra}" if extra else "") + "}"


def test_the_cobol_file_migrates_with_every_value_exact(usages, tmp_path):
    rows, truth = usages
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "USAGES.DAT").write_bytes(rows.tobytes())
    fields = {"id": "{offset: 0, length: 6, type: zoned, digits: 6}", **{n: field_yaml(n) for n in FIELDS}}
    mapping = write_mapping(tmp_path, fields, {"record_id": "id", **{n: n for n in FIELDS}})
    out = tmp_path / "out"
    result = run_cli("migrate", "--mapping", mapping, "--input", tmp_path / "export", "--out", out)
    assert result.exit_code == 0, result.output
    landed = query(out, "select * from \"values\" order by record_id")
    assert landed.height == 2000
    for name in FIELDS:
        got = [Decimal(str(v)) if name not in FLOATS else Decimal(v) for v in landed[name].to_list()]
        assert got == [cobol_value(t) for t in truth[name]], name


@pytest.mark.parametrize("fields, items, encoding, expected", [
    ({"c2": "{offset: 113, length: 8, type: float}"}, {"b2s": "c2"}, "cp932", "floats are not money"),
    ({"c2": "{offset: 113, length: 8, type: float}"}, {"c2": "c2"}, "cp037", "IBM hexadecimal floats"),
    ({"c1": "{offset: 109, length: 5, type: float}"}, {"c1": "c1"}, "cp932", "4 bytes (COMP-1) or 8 bytes"),
    ({"b2s": "{offset: 6, length: 2, type: binary}"}, {"b2s": "b2s"}, "cp932", "say whether the binary field"),
    ({"b4s": "{offset: 10, length: 2, type: binary, signed: true, digits: 9}"}, {"b4s": "b4s"}, "cp932",
     "9 digits is 4 bytes long, not 2"),
    ({"p31": "{offset: 54, length: 17, type: packed}"}, {"p31": "p31"}, "cp932", "up to 16 bytes (31 digits)"),
    ({"p18": "{offset: 44, length: 10, type: packed, digits: 17}"}, {"p18": "p18"}, "cp932",
     "17 digits is 9 bytes long, not 10"),
    ({"z31": "{offset: 78, length: 31, type: text, scale: 2}"}, {"z31": "z31"}, "cp932", "scale (implied decimal"),
    ({"z31": "{offset: 78, length: 4, type: kanji}"}, {"z31": "z31"}, "cp037", "needs a double-byte encoding"),
    ({"b2s": "{offset: 6, length: 2, type: packed, signed: true}"}, {"b2s": "b2s"}, "cp932",
     "signed describes binary fields only"),
])
def test_a_declaration_that_cannot_work_is_refused_at_load_naming_the_field(tmp_path, fields, items, encoding,
                                                                            expected):
    from ikou.errors import IkouError
    from ikou.mapping import load_mapping

    mapping = write_mapping(tmp_path, fields, items, encoding)
    with pytest.raises(IkouError) as exc:
        load_mapping(mapping)
    text = "\n".join(exc.value.problems)
    assert expected in text, text
    assert f"fields.{next(iter(fields))}" in text or f"items.{next(iter(items))}" in text, text


TAX_LAYOUT = """\
layout: cobol_tax
name_ja: 収納テスト
version: "1"
code_tables: {}
tables:
  payments:
    name_ja: 収納
    duplicate_keys: []
    row_key: [atena_number, fiscal_year, instalment]
    money_totals_by: [fiscal_year, instalment]
    items:
      - {id: municipality_code, name_ja: 市区町村コード, type: string, required: true}
      - {id: atena_number, name_ja: 宛名番号, type: string, required: true}
      - {id: fiscal_year, name_ja: 年度, type: integer, required: true}
      - {id: instalment, name_ja: 期別, type: integer, required: true}
      - {id: assessed_amount, name_ja: 調定額, type: money}
      - {id: paid_amount, name_ja: 収納額, type: money}
"""


def test_the_cobol_tax_export_lands_with_negative_payments_exact_to_the_trailer(tmp_path):
    """LINE SEQUENTIAL records as GnuCOBOL writes them (blanks trimmed, native trailing signs):
    every negative 収納額 lands, the trailer's hash total matches, 金額照合 equals COBOL's own sums."""
    folder = run_cobol("tax", tmp_path / "cobol")
    paid, assessed, negative, negatives = (int(line) for line in (folder / "taxsum.txt").read_text().split())
    assert negatives > 5 and negative < 0
    (tmp_path / "export").mkdir()
    shutil.copy(folder / "ZEI.DAT", tmp_path / "export" / "ZEI.DAT")
    (tmp_path / "tax.yaml").write_text(TAX_LAYOUT, encoding="utf-8")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(f"""\
municipality: {{code: "372013", name: 高松市}}
layout: {tmp_path / 'tax.yaml'}
sources:
  - name: payments
    table: payments
    files: "ZEI.DAT"
    format: fixed
    encoding: cp932
    record_length: 39
    newline: lf
    short_records: pad
    record_type: {{offset: 0, length: 1}}
    header_codes: ["1"]
    data_codes: ["2"]
    trailer:
      code: "9"
      count: {{offset: 1, length: 9, type: zoned, digits: 9}}
      sum_of: 収納額
      sum: {{offset: 10, length: 15, type: zoned, digits: 15}}
    sign: trailing
    overpunch: ascii
    fields:
      宛名番号: {{offset: 1, length: 10}}
      年度: {{offset: 11, length: 4, type: zoned}}
      期別: {{offset: 15, length: 2, type: zoned}}
      調定額: {{offset: 17, length: 11, type: zoned, digits: 11}}
      収納額: {{offset: 28, length: 11, type: zoned, digits: 11}}
    items:
      municipality_code: {{value: "372013"}}
      atena_number: 宛名番号
      fiscal_year: 年度
      instalment: 期別
      assessed_amount: 調定額
      paid_amount: 収納額
""", encoding="utf-8")
    out = tmp_path / "out"
    result = run_cli("migrate", "--mapping", mapping, "--input", tmp_path / "export", "--out", out, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["totals"]["rejected"] == 0 and summary["totals"]["landed"] == 2000
    assert not [f for f in summary["files"][0].get("findings", []) if "trailer" in f], summary["files"][0]
    money = {(m["item"]): 0 for m in summary["money"]}
    for m in summary["money"]:
        assert m["reconciled"] and m["source"] == m["landed"]
        money[m["item"]] += m["landed"]
    assert money == {"assessed_amount": assessed, "paid_amount": paid}
    landed = query(out, "select sum(paid_amount) filter (where paid_amount < 0) as neg, "
                        "count(*) filter (where paid_amount < 0) as n from payments")
    assert (landed["neg"][0], landed["n"][0]) == (negative, negatives)
    # the same export with one yen more in the trailer's hash total: the run says so (exit 1)
    raw = (tmp_path / "export" / "ZEI.DAT").read_bytes()
    trailer = raw.rstrip(b"\n").rsplit(b"\n", 1)[1]
    wrong = trailer[:10] + b"%015d" % (paid + 1) if paid >= 0 else trailer
    (tmp_path / "export" / "ZEI.DAT").write_bytes(raw.replace(trailer, wrong))
    result = run_cli("migrate", "--mapping", mapping, "--input", tmp_path / "export", "--dry-run", "--json")
    assert result.exit_code == 1 and f"hash total of 収納額 is {paid + 1}" in result.output, result.output
