"""`ikou inspect`: encoding, CSV dialect and header guesses on the fixture and on real files,
fixed-width and EBCDIC records, and a mapping skeleton that lists every column."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from ikou.codecs.numeric import encode_zoned
from ikou.draft import draft_mapping
from ikou.errors import IkouError
from ikou.fixtures.generator import EXPORT_NAME, HEADER, generate
from ikou.inspect import guess_encoding, inspect_file
from ikou.mapping import load_mapping

from .conftest import REALDATA, needs_realdata, run_cli


@pytest.fixture(scope="module")
def fixture_csv(tmp_path_factory):
    out = tmp_path_factory.mktemp("insp")
    generate(out, residents=400, seed=9)
    return out / EXPORT_NAME


def test_fixture_export(fixture_csv):
    r = inspect_file(fixture_csv)
    assert (r.encoding, r.format, r.delimiter, r.skip_rows, len(r.header)) == ("cp932", "csv", ",", 2, len(HEADER))
    assert r.header == HEADER and len(r.records) == 5
    assert "invalid byte sequence" in r.encoding_reason  # the planted broken records, counted


def test_draft_mapping_names_every_column_and_proposes_items(fixture_csv, tmp_path):
    draft = tmp_path / "draft.yaml"
    result = run_cli("inspect", fixture_csv, "--draft-mapping", draft)
    assert result.exit_code == 0 and "mapping skeleton written" in result.output
    text = draft.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    items = data["sources"][0]["items"]
    assert items["atena_number"] == "宛名番号" and items["name"] == "氏名" and items["birth_date"] == "生年月日"
    assert all(name in text for name in ("氏名カナ", "異動日", "TODO required: municipality_code"))
    with pytest.raises(IkouError) as exc:  # a skeleton: the person still has to complete it
        load_mapping(draft)
    assert any("TODO" in p for p in exc.value.problems)
    assert run_cli("inspect", fixture_csv, "--draft-mapping", draft).exit_code == 2  # never overwritten


def test_draft_for_a_tab_separated_export_reads_back_as_a_tab(tmp_path):
    """inspect once wrote delimiter: '\\t' (single quotes: two characters in YAML)."""
    export = tmp_path / "jumin.tsv"
    export.write_bytes("宛名番号\t氏名\t\"備考\"\n000000000000017\t山田\t引用符\"あり\"\n".encode("cp932") * 1)
    r = inspect_file(export)
    assert r.delimiter == "\t"
    data = yaml.safe_load(draft_mapping(r))
    assert data["sources"][0]["delimiter"] == "\t"
    assert data["sources"][0]["items"]["atena_number"] == "宛名番号"


@needs_realdata
def test_real_files():
    ichikawa = inspect_file(REALDATA / "opendata_122033_ichikawa" / "122033_102_cultural_property.csv")
    assert (ichikawa.encoding, ichikawa.skip_rows, ichikawa.header[0]) == ("cp932", 0, "全国地方公共団体コード")
    takamatsu = inspect_file(REALDATA / "opendata_372013_takamatsu" / "old_data__0060.csv")
    assert (takamatsu.encoding, takamatsu.skip_rows, takamatsu.skip_after_header) == ("utf-8-sig", 6, 2)
    assert takamatsu.header[:3] == ["#property", "name", "address"] and takamatsu.records[0][1] == "日新小学校跡施設"
    estat = inspect_file(REALDATA / "lg_code" / "FEA_hyoujun-20250210024619.csv")
    assert (estat.encoding, estat.header[0], estat.records[0][0]) == ("cp932", "標準地域コード", "01100")


def test_fixed_width_cp932_with_line_ends(tmp_path):
    lines = [("2" + f"{i:010d}" + "山田　太郎").encode("cp932").ljust(40, b" ") for i in range(5)]
    path = tmp_path / "f.dat"
    path.write_bytes(b"\r\n".join(lines) + b"\r\n")
    r = inspect_file(path)
    assert (r.format, r.record_length, r.newline, r.encoding) == ("fixed", 40, "crlf", "cp932")
    assert r.records[0][0].startswith("20000000000山田　太郎")


def test_ebcdic_stream_record_length_is_guessed_or_taken(tmp_path):
    rec = "山田太郎".encode("cp930") + b"\x40" * 6 + encode_zoned(np.arange(3), 8).tobytes()[:8]
    data = b"".join((rec + encode_zoned(np.array([i]), 4).tobytes()).ljust(30, b"\x40") for i in range(50))
    path = tmp_path / "m.dat"
    path.write_bytes(data)
    r = inspect_file(path)
    assert r.encoding == "cp930" and r.record_length == 30
    assert any("repeat their structure every 30 bytes" in n for n in r.notes)
    r = inspect_file(path, record_length=30)
    assert r.records[0][0].startswith("山田太郎")
    out = run_cli("inspect", path, "--record-length", "30", "--encoding", "cp930")
    assert out.exit_code == 0 and "山田太郎" in out.output


def test_ascii_is_reported_as_such():
    assert guess_encoding(b"a,b\n1,2\n")[0] == "utf-8"


@pytest.mark.parametrize("encoding, message", [("latin9", "unknown encoding"), ("shift-jis", "unknown encoding")])
def test_unsupported_encodings_are_refused(fixture_csv, encoding, message):
    result = run_cli("inspect", fixture_csv, "--encoding", encoding)
    assert result.exit_code == 2 and message in result.output


def test_jef_mainframe_stream(tmp_path):
    from ikou.fixtures.vendors import generate_jef
    export = generate_jef(tmp_path, residents=1000)
    r = inspect_file(export.path)
    assert r.record_length == 160 and r.newline == "none" and r.encoding == "ebcdik"
    assert any("--encoding jef" in n for n in r.notes)
    r = inspect_file(export.path, encoding="jef")
    assert "ﾐﾄﾞﾘ" not in r.records[0][0] and "ヤマビコ計算センター" in r.records[0][0]


@needs_realdata
def test_ken_all_has_no_header_and_its_columns_are_named_by_position(tmp_path):
    """KEN_ALL (Japan Post's postal codes) has no header row: its first row is a record."""
    import csv
    import io

    path = REALDATA / "japanpost_kenall" / "KEN_ALL_subset_pref03_pref26.CSV"
    first = next(csv.reader(io.StringIO(path.read_bytes().decode("cp932"), newline="")))
    r = inspect_file(path)
    assert not r.has_header and r.header == [str(i) for i in range(1, 16)] and r.records[0] == first
    assert "no header (columns by position)" in run_cli("inspect", path).output
    forced = inspect_file(path, header=True)
    assert forced.has_header and forced.header == [c.strip() for c in first]  # names, stripped
    draft = tmp_path / "ken_all.yaml"
    assert run_cli("inspect", path, "--draft-mapping", draft).exit_code == 0
    source = yaml.safe_load(draft.read_text(encoding="utf-8"))["sources"][0]
    assert source["header"] is False and "format" in source


def test_a_header_over_numbers_stays_a_header(tmp_path):
    export = tmp_path / "counts.csv"
    export.write_text("code,count,name\n01100,12,札幌\n01202,7,函館\n01203,3,小樽\n", encoding="utf-8")
    r = inspect_file(export)
    assert r.has_header and r.header == ["code", "count", "name"]
    assert not inspect_file(export, header=False).has_header


def test_the_draft_proposes_items_for_the_names_vendors_use(fixture_csv, tmp_path):
    """The fixture vendor's 郵便番号, 電話番号, 氏名カナ, 履歴番号 are not the standard's item names
    (住所_郵便番号, …): the synonym table proposes them; each synonym names an item of its layout."""
    from ikou.draft import column_synonyms
    from ikou.layout import load_layout

    items = yaml.safe_load(draft_mapping(inspect_file(fixture_csv)))["sources"][0]["items"]
    assert (items["postal_code"], items["phone_number"], items["name_kana"], items["history_number"],
            items["history_branch_number"], items["latest_flag"]["column"]) == (
        "郵便番号", "電話番号", "氏名カナ", "履歴番号", "枝番号", "最新")
    ids = {it.id for it in load_layout("resident").table("resident").items}
    assert column_synonyms("resident") and set(column_synonyms("resident").values()) <= ids


def test_the_draft_seeds_each_code_table_with_the_columns_values_and_counts(fixture_csv):
    """A proposed item with a code table gets one, holding every value its column has in the
    sample with the records carrying it (counted here again with Python's csv module), each
    mapped to TODO, which the mapping check refuses by name until a person gives the code."""
    import csv
    import io
    from collections import Counter

    from ikou.layout import load_layout

    result = inspect_file(fixture_csv)
    text = draft_mapping(result)
    data = yaml.safe_load(text)
    items = data["sources"][0]["items"]
    assert items["sex"] == {"column": "性別", "code_table": "vendor_sex"}
    assert data["code_tables"]["vendor_sex"]["standard"] == "sex"
    raw = fixture_csv.read_bytes().decode("cp932", "replace").split("\n", 2)[2]
    rows = list(csv.reader(io.StringIO(raw)))
    sex = rows[0].index("性別")
    oracle = Counter(r[sex].strip() for r in rows[1:] if len(r) > sex and r[sex].strip())
    assert data["code_tables"]["vendor_sex"]["codes"] == {k: "TODO" for k in oracle}
    for value, n in oracle.items():
        assert f'"{value}": TODO    # {n:,}' in text
    layout = load_layout("resident")
    coded = {it.id for it in layout.table("resident").items if it.code_table}
    assert {k for k, v in items.items() if isinstance(v, dict) and "code_table" in v} <= coded
    assert "# standard codes (性別): 0 不明（未記入）, 1 男, 2 女" in text
    with pytest.raises(IkouError) as exc:
        load_mapping_text(text, fixture_csv.parent)
    assert any("vendor_sex: '男' maps to 'TODO'" in p for p in exc.value.problems)


def load_mapping_text(text: str, folder):
    path = folder / "seeded.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        return load_mapping(path)
    finally:
        path.unlink()


def test_excel_serial_dates_are_flagged_and_drafted_with_their_form(tmp_path):
    """Dates that lost their format in Excel arrive as day numbers (45016 = 2023-03-29): inspect
    says so, and the draft gives the item the excel_serial form."""
    export = tmp_path / "serial.csv"
    export.write_text("宛名番号,氏名,生年月日,異動日,世帯番号\r\n"
                      + "".join(f"{1000 + i},住民{i},{20000 + i * 97},{45000 + i},{30000 + i}\r\n" for i in range(50)),
                      encoding="utf-8")
    result = inspect_file(export)
    notes = [n for n in result.notes if "Excel serial" in n]
    assert len(notes) == 2 and "'生年月日'" in notes[0] and "20000 = 1954-10-03" in notes[0]
    assert "'異動日'" in notes[1]  # 世帯番号: five digits too, but not named like a date
    items = yaml.safe_load(draft_mapping(result))["sources"][0]["items"]
    assert items["birth_date"] == {"column": "生年月日", "date_forms": ["excel_serial"]}
    assert items["change_date"] == {"column": "異動日", "date_forms": ["excel_serial"]}
    assert run_cli("inspect", export).output.count("Excel serial") == 2


@pytest.mark.parametrize("name", ["signs.dat", "ibm.dat"])
def test_the_record_length_of_cobol_streams_without_line_ends(name):
    """GnuCOBOL's records of four zoned sign forms (30 bytes, ASCII and IBM overpunch): few bytes
    repeat one record later, but every multiple of 30 stands out."""
    from tests.test_cobol_signs import DATA

    r = inspect_file(DATA / name)
    assert (r.record_length, r.newline) == (30, "none"), r.notes


def test_random_bytes_have_no_record_length(tmp_path):
    from ikou.inspect import guess_record_length

    rng = np.random.default_rng(7)
    assert guess_record_length(rng.integers(0, 256, 200_000, dtype=np.uint8).tobytes())[0] is None
    words = rng.choice(["山田", "tanaka", "1234", "東京都千代田区", "  ", "abc,def"], 40_000)
    assert guess_record_length("".join(words).encode("cp932"))[0] is None


def test_line_sequential_records_with_trailing_blanks_trimmed(tmp_path):
    """COBOL's LINE SEQUENTIAL files drop each record's trailing blanks: the lines vary in length,
    the record length is the longest, and short records are padded back."""
    names = ["山田　太郎", "佐藤", "髙橋　一二三四", ""]
    lines = [(f"2{i:010d}" + names[i % 4]).encode("cp932").ljust(40, b" ").rstrip(b" ") for i in range(200)]
    path = tmp_path / "ls.dat"
    path.write_bytes(b"\n".join(lines) + b"\n")
    r = inspect_file(path)
    assert (r.format, r.record_length, r.newline, r.short_records) == ("fixed", 25, "lf", "pad"), r.notes
    assert any("trailing blanks trimmed" in n for n in r.notes)
    assert r.records[1][0] == "2" + "0" * 9 + "1佐藤" + " " * 10
    r = inspect_file(path, record_length=40)  # the vendor's record length: lines are records, not "no line ends"
    assert (r.record_length, r.newline, r.short_records) == (40, "lf", "pad"), r.notes
    assert not any("no line ends" in n for n in r.notes)
    assert r.records[0][0] == ("2" + "0" * 10 + "山田　太郎").encode("cp932").ljust(40).decode("cp932")
