"""The fixed-width extractor: record types, byte offsets, numbers, trailers, broken records, and
the properties that a double-byte character is never split and no record is ever lost."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ikou.codecs.numeric import encode_packed, encode_zoned
from ikou.errors import IkouError
from ikou.extract.fixed_width import FixedExtractor
from ikou.mapping import FieldSpec, FixedLayout, Source, TrailerSpec

# record: type(1) 宛名番号(10) 氏名(12, CP932) 生年月日 GYYMMDD zoned(7) 調定額 packed(4, 7 digits)
LAYOUT = FixedLayout(
    record_length=34, newline="auto",
    record_type=FieldSpec("record_type", 0, 1),
    header_codes=("1",), data_codes=("2",),
    trailer=TrailerSpec(code="9", count=FieldSpec("count", 1, 8, "zoned"), sum_of="調定額",
                        sum=FieldSpec("sum", 9, 12, "zoned")),
    fields=(FieldSpec("宛名番号", 1, 10), FieldSpec("氏名", 11, 12), FieldSpec("生年月日", 23, 7, "zoned"),
            FieldSpec("調定額", 30, 4, "packed")))


def text(value: str, width: int, encoding: str = "cp932") -> bytes:
    raw = value.encode(encoding)
    pad = " ".encode(encoding)
    return raw + pad * (width - len(raw))


def data_record(atena: str, name: str, birth: int, amount: int, encoding: str = "cp932", zone: int = 0x3) -> bytes:
    return ("2".encode(encoding) + text(atena, 10, encoding) + text(name, 12, encoding)
            + encode_zoned(np.array([birth]), 7, zone, signed=False).tobytes()
            + encode_packed(np.array([amount]), 4).tobytes())


def header_record(encoding: str = "cp932") -> bytes:
    return text("1HEADER", 34, encoding)


def trailer_record(count: int, total: int, encoding: str = "cp932", zone: int = 0x3) -> bytes:
    body = ("9".encode(encoding) + encode_zoned(np.array([count]), 8, zone, signed=False).tobytes()
            + encode_zoned(np.array([total]), 12, zone, signed=False).tobytes())
    return body + text("", 34 - len(body), encoding)


def extract(tmp_path: Path, data: bytes, layout: FixedLayout = LAYOUT, encoding: str = "cp932",
            chunk: int = 1 << 20) -> tuple[FixedExtractor, pl.DataFrame, pl.DataFrame]:
    path = tmp_path / "f.dat"
    path.write_bytes(data)
    src = Source(name="s", table="resident", files="*", format="fixed", encoding=encoding, fixed=layout)
    ex = FixedExtractor(path, path.name, src, chunk)
    ex.read_header()
    chunks = list(ex.chunks())
    frame = pl.concat([c.frame for c in chunks]) if chunks else pl.DataFrame()
    rejects = pl.concat([c.rejects for c in chunks]) if chunks else pl.DataFrame()
    return ex, frame, rejects


RECORDS = [data_record("0000012345", "山田　太郎", 3600214, 12345),
           data_record("0000012346", "髙橋花子", 4010508, -10),  # packed -10 ends in 0x0D
           data_record("0000012347", "ｻﾄｳ", 5060101, 0)]


@pytest.mark.parametrize("newline", [b"\r\n", b"\n", b""])
def test_records_fields_and_numbers(tmp_path, newline):
    recs = [header_record()] + RECORDS + [trailer_record(3, 12345 - 10)]
    ex, frame, rejects = extract(tmp_path, newline.join(recs) + newline, chunk=50)
    assert rejects.height == 0 and ex.stats.findings == []
    assert frame["宛名番号"].to_list() == ["0000012345", "0000012346", "0000012347"]
    assert frame["氏名"].to_list() == ["山田　太郎", "髙橋花子", "ｻﾄｳ"]
    assert frame["生年月日"].to_list() == ["3600214", "4010508", "5060101"]
    assert frame["調定額"].to_list() == ["12345", "-10", "0"]
    assert frame["_line"].to_list() == [2, 3, 4]
    stride = 34 + len(newline)
    assert frame["_offset"].to_list() == [stride, 2 * stride, 3 * stride]
    assert (ex.stats.records, ex.stats.skipped_rows) == (3, 2)


def test_scale_gives_exact_decimal_text(tmp_path):
    layout = FixedLayout(record_length=4, newline="none", fields=(FieldSpec("額", 0, 4, "packed", scale=2),))
    data = encode_packed(np.array([12345, -5, 100]), 4).tobytes()
    _, frame, _ = extract(tmp_path, data, layout)
    assert frame["額"].to_list() == ["123.45", "-0.05", "1.00"]


def test_trailer_count_and_hash_total_mismatches_are_findings(tmp_path):
    recs = [header_record()] + RECORDS + [trailer_record(4, 999)]
    ex, _, _ = extract(tmp_path, b"\r\n".join(recs) + b"\r\n")
    assert any("trailer says 4 data records, the file has 3" in f for f in ex.stats.findings)
    assert any("hash total of 調定額 is 999, the data records add up to 12335" in f for f in ex.stats.findings)


def test_missing_trailer_is_a_finding(tmp_path):
    ex, _, _ = extract(tmp_path, b"\r\n".join([header_record()] + RECORDS) + b"\r\n")
    assert ex.stats.findings == ["f.dat: no trailer record (type '9') found"]


def test_short_record_is_rejected_and_the_rest_stays_aligned(tmp_path):
    recs = [header_record(), RECORDS[0], RECORDS[1][:20], RECORDS[2], trailer_record(3, 12335)]
    ex, frame, rejects = extract(tmp_path, b"\r\n".join(recs) + b"\r\n")
    assert frame["宛名番号"].to_list() == ["0000012345", "0000012347"]
    r = rejects.row(0, named=True)
    assert (r["reason_code"], r["_line"], r["_offset"]) == ("record_length", 3, 72)
    assert "20 bytes" in r["message"] and r["raw_bytes"] == RECORDS[1][:20]
    assert ex.stats.records == 3


# text only: type(1) 宛名番号(10) 氏名(12) 住所(11); exporters that trim trailing blanks
TEXT_LAYOUT = FixedLayout(record_length=34, newline="auto", short_records="pad",
                          fields=(FieldSpec("宛名番号", 1, 10), FieldSpec("氏名", 11, 12), FieldSpec("住所", 23, 11)))


@pytest.mark.parametrize("newline", [b"\r\n", b"\n"])
def test_trimmed_records_are_padded_when_the_mapping_says_so(tmp_path, newline):
    full = [b"2" + text("0000000001", 10) + text("山田", 12) + text("桜丘1-2", 11),
            b"2" + text("0000000002", 10) + text("髙橋花子", 12) + text("", 11),  # trims into 氏名
            b"2" + text("0000000003", 10) + text("佐藤", 12) + text("緑町3", 11)]
    trimmed = [r.rstrip(b" ") for r in full]
    ex, frame, rejects = extract(tmp_path, newline.join(trimmed) + newline, TEXT_LAYOUT, chunk=40)
    assert rejects.height == 0 and ex.stats.padded_records == 3 and ex.stats.records == 3
    assert frame["氏名"].to_list() == ["山田", "髙橋花子", "佐藤"]
    assert frame["住所"].to_list() == ["桜丘1-2", None, "緑町3"]
    assert frame["_length"].to_list() == [len(r) for r in trimmed]  # lineage keeps the bytes as they were
    stride_free = [0, len(trimmed[0]) + len(newline), len(trimmed[0]) + len(trimmed[1]) + 2 * len(newline)]
    assert frame["_offset"].to_list() == stride_free
    # the default policy rejects the same records, and a long record is rejected under either policy
    reject_layout = FixedLayout(record_length=34, newline="crlf" if newline == b"\r\n" else "lf",
                                fields=TEXT_LAYOUT.fields)
    with pytest.raises(IkouError, match="first record is not 34 bytes followed by a newline"):
        extract(tmp_path, newline.join(trimmed) + newline, reject_layout)
    ex, frame, rejects = extract(tmp_path, newline.join([full[0], trimmed[1], full[2] + b"XX"]) + newline,
                                 reject_layout)
    assert frame.height == 1 and rejects["reason_code"].to_list() == ["record_length"] * 2
    ex, frame, rejects = extract(tmp_path, newline.join([trimmed[0], full[2] + b"XX"]) + newline, TEXT_LAYOUT)
    assert frame.height == 1 and rejects.row(0, named=True)["message"] == "record is 36 bytes, the layout says 34"


def test_padding_never_invents_a_number(tmp_path):
    layout = FixedLayout(record_length=34, short_records="pad", fields=LAYOUT.fields)
    ex, frame, rejects = extract(tmp_path, b"\r\n".join([RECORDS[0], RECORDS[2][:25]]) + b"\r\n", layout)
    assert frame.height == 1 and ex.stats.padded_records == 1
    r = rejects.row(0, named=True)
    assert (r["reason_code"], r["item"], r["raw_bytes"]) == ("invalid_number", "生年月日", RECORDS[2][:25])


def test_last_record_without_newline_and_a_truncated_stream(tmp_path):
    _, frame, _ = extract(tmp_path, b"\n".join(RECORDS), FixedLayout(record_length=34, fields=LAYOUT.fields))
    assert frame.height == 3
    layout = FixedLayout(record_length=34, newline="none", fields=LAYOUT.fields)
    ex, frame, rejects = extract(tmp_path, b"".join(RECORDS) + RECORDS[0][:10], layout)
    assert frame.height == 3 and rejects["reason_code"].to_list() == ["record_length"]
    assert ex.stats.records == 4


def test_a_character_cut_by_the_field_boundary_is_rejected_with_its_offset(tmp_path):
    name = ("A" + "山田太郎佐藤").encode("cp932")  # 13 bytes into a 12-byte field: 藤 is cut
    cut = b"2" + text("0000099999", 10) + name[:12] + RECORDS[0][23:]
    layout = FixedLayout(record_length=34, newline="none", fields=LAYOUT.fields)
    _, frame, rejects = extract(tmp_path, RECORDS[0] + cut, layout)
    assert frame["宛名番号"].to_list() == ["0000012345"]
    r = rejects.row(0, named=True)
    assert (r["reason_code"], r["item"], r["_offset"]) == ("invalid_encoding", "氏名", 34)
    assert "byte offset 56" in r["message"]  # record 34 + field 11 + the lead byte at 11


def test_bad_packed_nibble_and_unknown_record_type(tmp_path):
    bad_packed = RECORDS[0][:30] + b"\x12\x3a\x45\x6c"
    unknown = b"7" + RECORDS[0][1:]
    recs = [header_record(), bad_packed, unknown, RECORDS[2], trailer_record(2, 0)]
    ex, frame, rejects = extract(tmp_path, b"\r\n".join(recs) + b"\r\n")
    assert frame["宛名番号"].to_list() == ["0000012347"]
    got = {r["reason_code"]: r for r in rejects.iter_rows(named=True)}
    assert got["invalid_number"]["item"] == "調定額" and "byte offset 67" in got["invalid_number"]["message"]
    assert got["unknown_record_type"]["_line"] == 3
    assert ex.stats.records == 3 and ex.stats.findings == []


def test_ebcdic_cp930_records(tmp_path):
    recs = [data_record("0000012345", "山田太郎", 3600214, 42, encoding="cp930", zone=0xF)]
    layout = FixedLayout(record_length=34, newline="none", fields=LAYOUT.fields)
    _, frame, rejects = extract(tmp_path, b"".join(recs), layout, encoding="cp930")
    assert rejects.height == 0
    assert frame.row(0)[:4] == ("0000012345", "山田太郎", "3600214", "42")


def test_empty_file_is_a_file_level_error(tmp_path):
    with pytest.raises(IkouError, match="empty"):
        extract(tmp_path, b"")


names = st.text(alphabet=st.sampled_from(list("山田髙橋﨑太郎花子ｻﾄｳabc　")), max_size=10)


def _cut(cell: bytes) -> bool:
    try:
        cell.decode("cp932")
        return False
    except UnicodeDecodeError:
        return True


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(names, min_size=1, max_size=20), st.integers(1, 12))
def test_a_double_byte_character_is_never_split(tmp_path, values, width):
    layout = FixedLayout(record_length=width, newline="none", fields=(FieldSpec("v", 0, width),))
    cells = [v.encode("cp932")[:width].ljust(width, b" ") for v in values]
    try:
        ex, frame, rejects = extract(tmp_path, b"".join(cells), layout)
    except IkouError:
        # mostly undecodable: stopped as a wrong encoding, which it must only be when most cells are cut
        bad = sum(1 for c in cells if _cut(c))
        assert bad >= 5 and bad > len(cells) / 2
        return
    assert frame.height + rejects.height == ex.stats.records == len(values)
    for v in frame["v"].to_list():
        assert v is None or "\ufffd" not in v
    # exactly the cells whose bytes end inside a character are rejected; the others land whole
    expected, cut = [], 0
    for cell in cells:
        try:
            expected.append(cell.decode("cp932").rstrip(" ") or None)
        except UnicodeDecodeError:
            cut += 1
    assert frame["v"].to_list() == expected and rejects.height == cut


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300), st.sampled_from([b"\r\n", b""]), st.sampled_from(["reject", "pad"]))
def test_arbitrary_bytes_never_lose_a_record(tmp_path, body, newline, short_records):
    layout = FixedLayout(record_length=34, newline="crlf" if newline else "none", record_type=LAYOUT.record_type,
                         short_records=short_records if newline else "reject",
                         header_codes=("1",), data_codes=("2",), trailer=LAYOUT.trailer, fields=LAYOUT.fields)
    try:
        ex, frame, rejects = extract(tmp_path, body, layout, chunk=64)
    except IkouError:
        return
    assert frame.height + rejects.height == ex.stats.records


def test_single_byte_ebcdic_cp037(tmp_path):
    layout = FixedLayout(record_length=12, newline="none",
                         fields=(FieldSpec("name", 0, 8), FieldSpec("amount", 8, 4, "zoned")))
    data = "SMITH   ".encode("cp037") + encode_zoned(np.array([-42]), 4, zone=0xF).tobytes()
    _, frame, rejects = extract(tmp_path, data, layout, encoding="cp037")
    assert rejects.height == 0 and frame.row(0)[:2] == ("SMITH", "-42")


def _cp932_double_byte() -> list[str]:
    """Every character CP932 writes in two bytes (Python's codec, the oracle), 外字 area excluded."""
    out = []
    for lead in [*range(0x81, 0xA0), *range(0xE0, 0xF0)]:
        for trail in [*range(0x40, 0x7F), *range(0x80, 0xFD)]:
            try:
                ch = bytes([lead, trail]).decode("cp932")
            except UnicodeDecodeError:
                continue
            if len(ch) == 1 and ch.encode("cp932") == bytes([lead, trail]):
                out.append(ch)
    return out


CP932_DOUBLE = _cp932_double_byte()
KANJI_LAYOUT = FixedLayout(record_length=12, newline="none", fields=(FieldSpec("氏名", 0, 10, "kanji"),
                                                                     FieldSpec("区分", 10, 2)))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.lists(st.sampled_from(CP932_DOUBLE), max_size=5), st.sampled_from(["　", " "])),
                min_size=1, max_size=30))
def test_pic_n_in_cp932_reads_as_python_decodes_it(tmp_path, values):
    """PIC N(5) in a CP932 file: ten bytes of double-byte characters, padded with full-width
    spaces or blanks; a single-byte character inside is a reject, never read."""
    records = []
    for chars, pad in values:
        raw = "".join(chars).encode("cp932")
        records.append(raw + pad.encode("cp932") * ((10 - len(raw)) // len(pad.encode("cp932"))) + b"01")
    ex, frame, rejects = extract(tmp_path, b"".join(records), KANJI_LAYOUT)
    assert rejects.height == 0
    assert frame["氏名"].to_list() == ["".join(chars).rstrip("　") or None for chars, _ in values]  # blank: null


def test_a_single_byte_character_in_pic_n_is_rejected_at_its_offset(tmp_path):
    records = ["山田　太郎".encode("cp932") + b"01", "山田ｱ太郎".encode("cp932").ljust(10) + b"01"]
    ex, frame, rejects = extract(tmp_path, b"".join(records), KANJI_LAYOUT)
    assert frame["氏名"].to_list() == ["山田　太郎"]
    assert rejects.height == 1 and rejects["_offset"][0] == 12
