"""The streaming CSV extractor: real municipal files, invalid bytes, awkward endings, and the
properties that chunking never changes the result and that no record is ever lost."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ikou.errors import IkouError
from ikou.extract import csv_records
from ikou.extract.csv_file import CsvExtractor, count_csv_records, csv_module_rows
from ikou.mapping import Source

from .conftest import REALDATA, needs_realdata


def extract(path: Path, chunk: int = 16 << 20, **source) -> tuple[CsvExtractor, pl.DataFrame, pl.DataFrame]:
    src = Source(name="t", table="resident", files="*", **source)
    ex = CsvExtractor(path, path.name, src, chunk_bytes=chunk)
    chunks = list(ex.chunks())
    if not chunks:
        empty = pl.DataFrame(schema={**{n: pl.String for n in ex.stats.header}, "_line": pl.Int64})
        return ex, empty, pl.DataFrame(schema={"_line": pl.Int64, "reason_code": pl.String})
    frame = pl.concat([c.frame for c in chunks], how="vertical")
    rejects = pl.concat([c.rejects for c in chunks], how="vertical")
    return ex, frame, rejects


def write(tmp_path: Path, data: bytes, name: str = "x.csv") -> Path:
    p = tmp_path / name
    p.write_bytes(data)
    return p


# -- real data ---------------------------------------------------------------------------------

ICHIKAWA = sorted((REALDATA / "opendata_122033_ichikawa").glob("*.csv")) if REALDATA.is_dir() else []
TAKAMATSU = sorted((REALDATA / "opendata_372013_takamatsu").glob("*.csv")) if REALDATA.is_dir() else []


@needs_realdata
@pytest.mark.parametrize("path", ICHIKAWA, ids=lambda p: p.name)
@pytest.mark.parametrize("chunk", [16 << 20, 4096])
def test_ichikawa_cp932_counts_equal_python_csv(path, chunk):
    ex, frame, rejects = extract(path, chunk, encoding="cp932")
    reference = list(csv.reader(io.StringIO(path.read_bytes().decode("cp932"), newline="")))
    assert ex.stats.records == frame.height == len(reference) - 1
    assert rejects.height == 0
    # every cell equals the csv module's (empty cells are null)
    expected = pl.DataFrame(reference[1:], schema=ex.stats.header, orient="row")
    expected = expected.with_columns(pl.all().replace("", None))
    assert frame.drop("_line", "_offset", "_length").equals(expected)


@needs_realdata
def test_ichikawa_line_breaks_inside_quoted_cells_are_kept():
    path = REALDATA / "opendata_122033_ichikawa" / "122033_102_cultural_property.csv"
    _, frame, _ = extract(path, encoding="cp932")
    assert frame.filter(pl.col("種類") == "建造物\n歴史資料").height >= 1
    # line numbers count physical lines: records after a multi-line cell start further down
    assert frame["_line"].max() > frame.height + 1


@needs_realdata
@pytest.mark.parametrize("path", TAKAMATSU, ids=lambda p: p.name)
def test_takamatsu_metadata_rows_and_bom(path):
    # 6 metadata rows, the '#property' row as header, then 2 more metadata rows
    ex, frame, rejects = extract(path, encoding="utf-8", skip_rows=6, skip_after_header=2)
    text = path.read_bytes().decode("utf-8-sig")
    assert ex.stats.records == frame.height == count_csv_records(text, skip_rows=9, header=False)
    assert ex.stats.header[0] == "#property" and rejects.height == 0
    assert ex.stats.skipped_rows == 9


@needs_realdata
def test_matsuyama_utf8_bom():
    path = REALDATA / "opendata_382019_matsuyama" / "382019_evacuation_space.csv"
    ex, frame, _ = extract(path, encoding="utf-8")
    assert not ex.stats.header[0].startswith("\ufeff")
    assert frame.height == count_csv_records(path.read_bytes().decode("utf-8-sig"))


# -- invalid bytes -----------------------------------------------------------------------------

HEADER = "宛名番号,氏名,備考\r\n"


@pytest.mark.parametrize("bad", [b"\x85\x40", b"\xfd", b"\xff", b"\x80", b"\xa0", b"\x81"])
def test_invalid_cp932_bytes_reject_only_their_record(tmp_path, bad):
    good1 = "0001,山田　太郎,あ\r\n".encode("cp932")
    broken = "0002,".encode("cp932") + "佐藤".encode("cp932") + bad + ",x\r\n".encode("cp932")
    good2 = "0003,髙橋　花子,\"a,b\"\r\n".encode("cp932")
    data = HEADER.encode("cp932") + good1 + broken + good2
    _, frame, rejects = extract(write(tmp_path, data), encoding="cp932")
    assert frame["宛名番号"].to_list() == ["0001", "0003"]
    assert frame["氏名"].to_list() == ["山田　太郎", "髙橋　花子"]
    r = rejects.row(0, named=True)
    assert (r["_line"], r["reason_code"], r["item"]) == (3, "invalid_encoding", "氏名")
    bad_at = len(HEADER.encode("cp932") + good1) + len("0002,佐藤".encode("cp932"))
    assert f"byte offset {bad_at}" in r["message"]
    assert r["raw_bytes"] == broken.rstrip(b"\r\n") and r["_offset"] == len(HEADER.encode("cp932") + good1)


def test_user_area_gaiji_decodes_to_private_use_and_is_kept(tmp_path):
    data = HEADER.encode("cp932") + b"0001," + "山".encode("cp932") + b"\xf0\x40,x\r\n"
    _, frame, rejects = extract(write(tmp_path, data), encoding="cp932")
    assert rejects.height == 0 and frame["氏名"][0] == "山\ue000"


def test_both_byte_forms_of_taka_decode_to_the_same_character(tmp_path):
    data = HEADER.encode("cp932") + b"0001,\xfb\xfc\x8b\xb4,x\r\n0002,\xee\xe0\x8b\xb4,x\r\n"
    _, frame, _ = extract(write(tmp_path, data), encoding="cp932")
    assert frame["氏名"].to_list() == ["髙橋", "髙橋"]


def test_invalid_utf8(tmp_path):
    data = b"a,b\n1,ok\n2,\xe3\x81\n3,\xc3\xa9\n"
    _, frame, rejects = extract(write(tmp_path, data), encoding="utf-8")
    assert frame["a"].to_list() == ["1", "3"] and frame["b"][1] == "é"
    assert rejects["_line"].to_list() == [3]


# -- shapes and endings ------------------------------------------------------------------------

def test_leading_zeros_and_empty_cells(tmp_path):
    _, frame, _ = extract(write(tmp_path, b"a,b,c\r\n0012,,\"\"\r\n"), encoding="utf-8")
    # an unquoted empty cell is null, a quoted one an empty string (cleansing nulls both later)
    assert frame.row(0) == ("0012", None, "", 2, 7, 8)


def test_lf_only_and_no_final_newline(tmp_path):
    ex, frame, _ = extract(write(tmp_path, b"a,b\n1,2\n3,4"), encoding="utf-8")
    assert frame["a"].to_list() == ["1", "3"] and ex.stats.records == 2


def test_truncated_last_record_is_a_reject_not_a_loss(tmp_path):
    ex, frame, rejects = extract(write(tmp_path, b"a,b,c\r\n1,2,3\r\n4,5"), encoding="utf-8")
    assert frame.height == 1 and rejects["reason_code"].to_list() == ["field_count"]
    assert ex.stats.records == 2


def test_unterminated_quote_at_end_of_file_costs_its_own_record(tmp_path):
    """A quote that never closes ends its record at the line end: the records after it are read."""
    ex, frame, rejects = extract(write(tmp_path, b'a,b\n1,2\n3,"never closed\n4,5\n'), encoding="utf-8")
    assert frame["a"].to_list() == ["1", "4"]
    assert rejects["reason_code"].to_list() == ["unterminated_quote"] and rejects["_line"].to_list() == [3]
    assert rejects["raw_bytes"].to_list() == [b'3,"never closed'] and ex.stats.records == 3


def test_a_stray_quote_inside_a_field_is_data(tmp_path):
    """Legacy exporters write unquoted fields holding a quote (an inch mark, a typo): Python's csv
    module and Excel read it as data, and so does ikou; one such field once swallowed 134 lines."""
    body = "a,b,c\r\n1,J\",x\r\n" + "".join(f"{i},v{i},w\r\n" for i in range(2, 300)) + '7,5\'11",ok\r\n'
    ex, frame, rejects = extract(write(tmp_path, body.encode("cp932")), encoding="cp932")
    assert rejects.height == 0 and ex.stats.records == 300 == frame.height
    assert frame["b"][0] == 'J"' and frame["b"][-1] == "5'11\"" and frame["_line"].to_list() == list(range(2, 302))
    assert count_csv_records(body) == 300


def test_quotes_the_csv_module_reads_inside_a_quoted_field(tmp_path):
    """"ab"c reads abc and b""c stays b""c (unquoted), as the csv module reads them."""
    body = 'a,b,c\n1,"ab"c,x\n2,b""c,y\n3,"p""q",z\n4,"multi\nline",w\n'
    ex, frame, rejects = extract(write(tmp_path, body.encode()), encoding="utf-8")
    assert rejects.height == 0 and frame["b"].to_list() == ["abc", 'b""c', 'p"q', "multi\nline"]


def test_a_record_over_the_line_limit_is_cut_at_its_first_line_end(tmp_path):
    """A quote at a field start that closes 30 lines later: with max_record_lines 20 the record is
    taken as never closed, and the lines after it are read as records."""
    lines = ['1,"opens here,x'] + [f"{i},v,w" for i in range(2, 31)] + ['31,closes",y']
    ex, frame, rejects = extract(write(tmp_path, ("a,b,c\n" + "\n".join(lines) + "\n").encode()), encoding="utf-8")
    assert rejects["reason_code"].to_list()[0] == "unterminated_quote" and rejects["_line"][0] == 2
    assert frame["a"].to_list()[:3] == ["2", "3", "4"]
    assert ex.stats.records == frame.height + rejects.height == 31


def test_blank_lines_are_not_records(tmp_path):
    ex, frame, _ = extract(write(tmp_path, b"a,b\r\n1,2\r\n\r\n3,4\r\n\r\n"), encoding="utf-8")
    assert frame["_line"].to_list() == [2, 4] and ex.stats.blank_records == 2


def test_headerless_file_columns_by_position(tmp_path):
    _, frame, _ = extract(write(tmp_path, b"1,2\n3,4\n"), encoding="utf-8", header=False)
    assert frame.columns[:2] == ["1", "2"] and frame.height == 2


def test_empty_file_is_a_file_level_error(tmp_path):
    with pytest.raises(IkouError, match="empty"):
        extract(write(tmp_path, b""), encoding="cp932")


def test_bom_with_cp932_declared_is_a_file_level_error(tmp_path):
    with pytest.raises(IkouError, match="byte-order mark"):
        extract(write(tmp_path, b"\xef\xbb\xbfa,b\n1,2\n"), encoding="cp932")


def test_wrong_encoding_declared_stops_with_a_hint(tmp_path):
    rows = "".join(f"{i},山田太郎\n" for i in range(50))
    with pytest.raises(IkouError) as exc:
        extract(write(tmp_path, ("番号,氏名\n" + rows).encode("utf-8")), encoding="cp932")
    assert "utf-8" in (exc.value.hint or "")


# -- properties --------------------------------------------------------------------------------

cell = st.text(alphabet=st.sampled_from(list('ab1２髙ｶ" ,\n\r')), max_size=8)


def to_csv(rows: list[list[str]]) -> str:
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL).writerows(rows)
    return buf.getvalue()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(cell, min_size=3, max_size=3), min_size=1, max_size=30),
       st.sampled_from([7, 64, 1000, 1 << 20]), st.sampled_from([0, 20_000]))
def test_chunking_never_changes_the_records(tmp_path, monkeypatch, rows, chunk, few_quoted):
    # few_quoted 0: separators inside quotes are counted by the vectorised pass, not one by one
    monkeypatch.setattr(csv_records, "FEW_QUOTED_FIELDS", few_quoted)
    rows = [r for r in rows if any(r)]  # an all-empty row is a blank line, not a record
    text = "x,y,z\r\n" + to_csv(rows)
    path = write(tmp_path, text.encode("cp932"), f"p{chunk}.csv")
    ex, frame, rejects = extract(path, chunk, encoding="cp932")
    assert rejects.height == 0
    expected = [[c if c != "" else None for c in r] for r in csv.reader(io.StringIO(text, newline=""))][1:]
    assert [list(r) for r in frame.select("x", "y", "z").rows()] == expected
    assert ex.stats.records == len(expected)


raw_cell = st.text(alphabet=st.sampled_from(list('ab1髙ｶ" ,\r\n')), max_size=6)


def read_as_the_csv_module(text: str) -> list[list[str]]:
    """The oracle: Python's csv module, with a lone CR as data (ikou's default line ends)."""
    return [r for r in csv_module_rows(text) if r]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(raw_cell, min_size=1, max_size=4), min_size=1, max_size=25),
       st.sampled_from([7, 64, 1 << 20]), st.sampled_from(["\r\n", "\n"]))
def test_stray_quotes_and_lone_crs_read_as_the_csv_module_reads_them(tmp_path, rows, chunk, newline):
    """Fields written as they come, unquoted (as broken exporters do): quotes inside fields,
    quotes that open and close in odd places, lone CRs. Every record ikou reads is the csv
    module's record, field for field; a record only the limits cut is the one exception."""
    text = "x,y,z" + newline + "".join(",".join(r) + newline for r in rows)
    ex, frame, rejects = extract(write(tmp_path, text.encode("utf-8"), f"s{chunk}.csv"), chunk, encoding="utf-8",
                                 max_invalid_rate=1.0)
    assert frame.height + rejects.height == ex.stats.records
    if "unterminated_quote" in rejects["reason_code"].to_list():
        return  # a quote left open to the end of the file: the csv module swallows the rest, ikou one line
    expected = read_as_the_csv_module(text)[1:]
    assert ex.stats.records == len(expected)
    good = [[c or None for c in r] for r in expected if len(r) == 3]
    # (an empty field reads as null, a quoted empty one as "" or null: both are blank)
    assert [[c or None for c in r] for r in frame.select("x", "y", "z").rows()] == good
    assert rejects.height == len(expected) - len(good) and set(rejects["reason_code"]) <= {"field_count"}


# each invalid whatever follows it (a lone lead byte 0x81 before 'a' would be the valid ∥)
BAD_BYTES = {"cp932": [b"\x85\x40", b"\xfd", b"\xff", b"\x80", b"\xa0", b"\x81 "],
             "utf-8": [b"\xe3\x81", b"\xff", b"\xc3", b"\x80"]}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.lists(cell, min_size=3, max_size=3), st.sampled_from([None, 0, 1, 2]),
                          st.integers(0, 5)), min_size=1, max_size=30),
       st.sampled_from(["cp932", "utf-8"]), st.sampled_from([7, 64, 1 << 20]))
def test_invalid_bytes_reject_exactly_their_records(tmp_path, rows, encoding, chunk):
    # records with an invalid byte sequence in one cell (None: none) among good ones
    rows = [(cells, at, pick) for cells, at, pick in rows if any(cells) or at is not None]
    data, good, bad_lines, line = b"x,y,z\r\n", [], [], 2
    for cells, at, pick in rows:
        raw = [(f'"{c.replace(chr(34), 2 * chr(34))}"' if set(c) & set('",\r\n') else c).encode(encoding)
               for c in cells]
        if at is not None:
            bad = BAD_BYTES[encoding][pick % len(BAD_BYTES[encoding])]
            raw[at] = bad + raw[at] if not raw[at].startswith(b'"') else raw[at][:1] + bad + raw[at][1:]
            bad_lines.append(line)
        else:
            good.append([c if c != "" else None for c in cells])
        data += b",".join(raw) + b"\r\n"
        line += 1 + sum(c.count("\n") for c in cells)
    ex, frame, rejects = extract(write(tmp_path, data, "bad.csv"), chunk, encoding=encoding, max_invalid_rate=1.0)
    assert [list(r) for r in frame.select("x", "y", "z").rows()] == good
    assert sorted(rejects["_line"].to_list()) == bad_lines
    assert set(rejects["reason_code"].to_list()) <= {"invalid_encoding"}
    assert frame.height + rejects.height == ex.stats.records


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400), st.sampled_from(["cp932", "utf-8"]), st.sampled_from([16, 4096]))
def test_arbitrary_bytes_never_lose_a_record(tmp_path, body, encoding, chunk):
    path = write(tmp_path, b"a,b,c\n" + body, "fuzz.csv")
    try:
        ex, frame, rejects = extract(path, chunk, encoding=encoding)
    except IkouError:
        return  # a file-level finding (e.g. mostly undecodable): reported, nothing written
    assert frame.height + rejects.height == ex.stats.records
    lines = sorted(frame["_line"].to_list() + rejects["_line"].to_list()) if ex.stats.records else []
    assert len(set(lines)) == len(lines)
