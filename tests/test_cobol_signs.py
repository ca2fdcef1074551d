"""Zoned numbers in every sign form, read exactly as COBOL wrote them: tests/data/gnucobol holds
the records GnuCOBOL 3.1.2 wrote for 2,000 values (signs.cob: PIC S9(7) trailing, SIGN LEADING,
SIGN TRAILING SEPARATE, SIGN LEADING SEPARATE; signs.dat with the compiler's native ASCII signs,
ibm.dat compiled with -fsign=EBCDIC, IBM's overpunch letters) and, in signs.csv, the values as
COBOL itself displayed them: the oracle, not written by ikou."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ikou.codecs.numeric import decode_zoned
from tests.conftest import ROOT, query, run_cli

DATA = ROOT / "tests" / "data" / "gnucobol"
FIELDS = {"trailing": (0, 7), "leading": (7, 14), "trailing_separate": (14, 22), "leading_separate": (22, 30)}


def records(name: str) -> np.ndarray:
    raw = np.frombuffer((DATA / name).read_bytes(), dtype=np.uint8)
    return raw.reshape(-1, 30)


def expected() -> np.ndarray:
    return np.array([int(line) for line in (DATA / "signs.csv").read_text(encoding="ascii").split()], dtype=np.int64)


@pytest.mark.parametrize("file,overpunch", [("signs.dat", "auto"), ("signs.dat", "ascii"), ("ibm.dat", "auto"),
                                            ("ibm.dat", "ibm")])
@pytest.mark.parametrize("sign", list(FIELDS))
def test_every_sign_form_reads_as_cobol_displayed_it(file, overpunch, sign):
    rows = records(file)
    start, end = FIELDS[sign]
    values, bad = decode_zoned(rows[:, start:end], zone=0x3, sign=sign, overpunch=overpunch)
    truth = expected()
    assert (bad == -1).all(), f"{int((bad >= 0).sum())} values refused"
    assert (values == truth).all() and (truth < 0).sum() > 500 and (truth == 0).sum() >= 200


def test_the_wrong_convention_is_refused_never_misread():
    """ASCII signs read as IBM letters (and the reverse): every negative value is refused with its
    byte, none comes out with another value."""
    truth = expected()
    for file, wrong in (("signs.dat", "ibm"), ("ibm.dat", "ascii"), ("signs.dat", "ebcdic")):
        values, bad = decode_zoned(records(file)[:, 0:7], zone=0x3, sign="trailing", overpunch=wrong)
        ok = bad == -1
        assert (values[ok] == truth[ok]).all()
        assert (~ok).sum() >= (truth < 0).sum(), (file, wrong)
        assert (bad[~ok] == 6).all()  # the sign byte, last of the field


LAYOUT = """\
layout: signs
name_ja: 符号テスト
version: "1"
code_tables: {}
tables:
  amounts:
    name_ja: 金額
    duplicate_keys: []
    row_key: []
    items:
      - {id: municipality_code, name_ja: 市区町村コード, type: string, required: true}
      - {id: trailing, name_ja: 後置, type: money}
      - {id: leading, name_ja: 前置, type: money}
      - {id: trailing_separate, name_ja: 後置分離, type: money}
      - {id: leading_separate, name_ja: 前置分離, type: money}
"""


def write_mapping(folder, fields: dict[str, str]) -> Path:
    """A mapping of ZEI.DAT (30-byte records, no line ends) onto the test layout: ``fields`` is
    field name -> its YAML flow mapping; each field feeds the item of its name."""
    (folder / "signs.yaml").write_text(LAYOUT, encoding="utf-8")
    mapping = folder / "m.yaml"
    mapping.write_text(f"""\
municipality: {{code: "372013", name: 高松市}}
layout: {folder / 'signs.yaml'}
sources:
  - name: amounts
    table: amounts
    files: "ZEI.DAT"
    format: fixed
    encoding: cp932
    record_length: 30
    newline: none
    fields:
""" + "".join(f"      {name}: {spec}\n" for name, spec in fields.items()) + """\
    items:
      municipality_code: {value: "372013"}
""" + "".join(f"      {name}: {name}\n" for name in fields), encoding="utf-8")
    return mapping


@pytest.mark.parametrize("file", ["signs.dat", "ibm.dat"])
def test_a_mapping_declares_the_sign_per_field_and_lands_every_value(tmp_path, file):
    (tmp_path / "export").mkdir()
    (tmp_path / "export" / "ZEI.DAT").write_bytes((DATA / file).read_bytes())
    mapping = write_mapping(tmp_path, {
        name: f"{{offset: {a}, length: {b - a}, type: zoned" + (f", sign: {name}" if name != "trailing" else "") + "}"
        for name, (a, b) in FIELDS.items()})
    out = tmp_path / "out"
    result = run_cli("migrate", "--mapping", mapping, "--input", tmp_path / "export", "--out", out)
    assert result.exit_code == 0, result.output
    landed = query(out, "select \"trailing\", \"leading\", trailing_separate, leading_separate from amounts")
    truth = sorted(expected().tolist())
    for column in FIELDS:
        assert sorted(int(v) for v in landed[column].to_list()) == truth, column


def test_sign_on_a_field_that_is_not_zoned_is_refused_at_load(tmp_path):
    from ikou.errors import IkouError
    from ikou.mapping import load_mapping

    mapping = write_mapping(tmp_path, {"trailing": "{offset: 0, length: 7, type: packed, sign: leading}",
                                       "leading": "{offset: 7, length: 1, type: zoned, sign: leading_separate}"})
    with pytest.raises(IkouError) as exc:
        load_mapping(mapping)
    text = "\n".join(exc.value.problems)
    assert "sign and overpunch describe zoned fields only" in text and "at least 2 bytes" in text


def _cobol_bytes(value: int, digits: int, sign: str, overpunch: str) -> bytes:
    """A reference writer, by the table in docs/mapping.md (text operations, not ikou's code)."""
    text = str(abs(value)).rjust(digits, "0")
    negative = value < 0
    if sign.endswith("_separate"):
        mark = "-" if negative else "+"
        return ((text + mark) if sign.startswith("trailing") else (mark + text)).encode("ascii")
    i = -1 if sign == "trailing" else 0
    d = int(text[i])
    if overpunch == "ascii":
        ch = chr(0x70 + d) if negative else text[i]
    else:  # ibm
        ch = ("}JKLMNOPQR" if negative else "{ABCDEFGHI")[d]
    return (text[:-1] + ch if i == -1 else ch + text[1:]).encode("ascii")


@settings(max_examples=200, deadline=None)
@given(digits=st.integers(1, 18), sign=st.sampled_from(list(FIELDS)), overpunch=st.sampled_from(["ascii", "ibm"]),
       data=st.data())
def test_any_value_in_any_form_reads_back(digits, sign, overpunch, data):
    limit = 10 ** digits - 1
    values = data.draw(st.lists(st.integers(-limit, limit), min_size=1, max_size=20))
    width = digits + (1 if sign.endswith("_separate") else 0)
    raw = b"".join(_cobol_bytes(v, digits, sign, overpunch) for v in values)
    matrix = np.frombuffer(raw, dtype=np.uint8).reshape(len(values), width)
    for mode in (overpunch, "auto"):
        got, bad = decode_zoned(matrix, zone=0x3, sign=sign, overpunch=mode)
        assert (bad == -1).all() and got.tolist() == values
