"""IBM Japanese EBCDIC codecs (cp930, cp939, ebcdik): published code points, a round trip over
every JIS X 0208 character, exact error offsets, and agreement with glibc iconv (an
independent implementation of the shift-state logic; the tables themselves come from it)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ikou.codecs  # noqa: F401  (registers the codecs)
from ikou.codecs.mainframe import mainframe_codecs

from .conftest import REALDATA

needs_iconv = pytest.mark.skipif(shutil.which("iconv") is None, reason="iconv not installed")


def test_published_code_points():
    assert "\u3000".encode("cp930") == b"\x0e\x40\x40\x0f"  # double-byte space 4040
    assert b"\x0e\x40\x40\x0f".decode("cp930") == "\u3000"
    assert "A1".encode("cp930") == b"\xc1\xf1"  # EBCDIC letters and digits
    assert "abc".encode("cp939") == b"\x81\x82\x83"  # cp939 has lower case
    assert "ｱｲｳ".encode("ebcdik") == bytes([0x81, 0x82, 0x83])  # cp930/ebcdik: katakana there instead
    assert b"\xc1\xf1".decode("ibm930") == "A1"  # aliases


def _jis_x_0208() -> list[str]:
    chars = []
    for hi in range(0xA1, 0xFF):
        for lo in range(0xA1, 0xFF):
            try:
                chars.append(bytes([hi, lo]).decode("euc_jp"))
            except UnicodeDecodeError:
                pass
    return chars


@pytest.mark.parametrize("name", ["cp930", "cp939"])
def test_round_trip_over_jis_x_0208(name):
    chars = _jis_x_0208()
    assert len(chars) > 6800
    encodable, missing = [], []
    for ch in chars:
        try:
            encodable.append((ch, ch.encode(name)))
        except UnicodeEncodeError:
            missing.append(ch)
    # the one JIS X 0208 character IBM's set maps differently: 1-29 ― U+2015 (IBM has U+2014)
    assert missing == ["\u2015"]
    for ch, raw in encodable:
        assert raw.decode(name) == ch


@pytest.mark.parametrize("raw, start, reason", [
    (b"\xc1\x0e\x41", 2, "cut short"),        # a pair cut by the end of the field
    (b"\x0e\x41\x59\x0f", 1, "no mapping"),   # an unmapped pair
    (b"\xc1\xca", 1, "no mapping"),           # an unmapped single byte
])
def test_errors_carry_the_byte_offset(raw, start, reason):
    with pytest.raises(UnicodeDecodeError) as exc:
        raw.decode("cp930")
    assert exc.value.start == start and reason in exc.value.reason


def test_error_handlers_work_and_nothing_is_silently_replaced():
    assert b"\xc1\xca\xc2".decode("cp930", "backslashreplace") == "A\\xcaB"
    assert b"\xc1\xca\xc2".decode("cp930", "replace") == "A\ufffdB"  # only when asked


def _iconv(name: str, data: bytes) -> str | None:
    r = subprocess.run(["iconv", "-f", name.upper().replace("CP", "IBM"), "-t", "UTF-8"], input=data,
                       capture_output=True)
    return r.stdout.decode() if r.returncode == 0 else None


def _text(name: str):
    codec = mainframe_codecs()[name]
    pool = [c for c in codec.sbcs.values() if ord(c) >= 0x20] + list(codec.dbcs.values())[::7]
    return st.text(alphabet=st.sampled_from(pool), max_size=40)


@needs_iconv
@settings(max_examples=200, deadline=None)
@given(st.sampled_from(["cp930", "cp939"]).flatmap(lambda n: st.tuples(st.just(n), _text(n))))
def test_agrees_with_iconv_on_mixed_text(case):
    name, text = case
    raw = text.encode(name)
    assert raw.decode(name) == text
    assert _iconv(name, raw) == text


@needs_iconv
@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=30))
def test_arbitrary_bytes_decode_like_iconv_or_fail_with_an_offset(raw):
    try:
        ours = raw.decode("cp930")
    except UnicodeDecodeError as exc:
        assert 0 <= exc.start < max(len(raw), 1)
        return
    theirs = _iconv("cp930", raw)
    if theirs is not None:
        assert ours == theirs


# -- Fujitsu JEF and Hitachi KEIS ---------------------------------------------------------------

def test_jef_and_keis_published_code_points():
    assert "石".encode("jef") == b"\x28\xc0\xd0\x29"  # JEF 石 = C0D0, between K shift 28 and shift-in 29
    assert "\u3000".encode("jef") == b"\x28\x40\x40\x29"  # full-width space 4040
    assert "石".encode("keis") == b"\x0a\x42\xc0\xd0\x0a\x41"  # KEIS shift-out 0A42, shift-in 0A41
    assert b"\x38\xc0\xd0\x29".decode("jef") == "石"  # K1 shift-out accepted on decode
    assert b"\x28\x41\xa5\x29".decode("jef") == "丈\U000E0103"  # an IVS variant: base + 汎用電子 selector
    assert b"\x28\x80\xa1\xa0\xfe\x29".decode("jef") == "\ue000\uec1d"  # the user area (外字) -> PUA
    assert "山田 ﾔﾏﾀﾞ".encode("jef").decode("jef") == "山田 ﾔﾏﾀﾞ"


@pytest.mark.parametrize("name", ["jef", "keis"])
def test_jef_keis_round_trip_over_jis_x_0208(name):
    missing = []
    for ch in _jis_x_0208():
        try:
            raw = ch.encode(name)
        except UnicodeEncodeError:
            missing.append(ch)
            continue
        assert raw.decode(name) == ch
    # JEF maps 〜‖−¢ like CP932 does (～∥－￠) and has 顛 and 寃 only as variants (with an IVS);
    # KEIS maps 1-29 to U+2014 as IBM does. Exactly these characters have no code of their own.
    assert "".join(missing) == ("〜‖−¢顛寃" if name == "jef" else "\u2015")


def test_a_field_that_is_double_byte_throughout():
    assert mainframe_codecs()["jef"].decode_double(bytes.fromhex("BBB3C5C4"))[0] == "山田"
    with pytest.raises(UnicodeDecodeError):
        mainframe_codecs()["jef"].decode_double(bytes.fromhex("BBB3C5"))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["jef", "keis", "jef_ebcdic"]), st.binary(max_size=30))
def test_jef_keis_arbitrary_bytes_decode_or_fail_with_an_offset(name, raw):
    try:
        raw.decode(name)
    except UnicodeDecodeError as exc:
        assert 0 <= exc.start < max(len(raw), 1)


needs_jef4j = pytest.mark.skipif(not (REALDATA / "mainframe_codes").is_dir(),
                                 reason="jef4j tables in ../shared/realdata not present")


@needs_jef4j
@pytest.mark.parametrize("name, vendor_file", [("jef", "fujitsu_jef"), ("keis", "hitachi_keis83")])
def test_decoding_agrees_with_the_jef4j_tables(name, vendor_file):
    entries = json.loads((REALDATA / "mainframe_codes" / f"{vendor_file}_mapping.json").read_text(encoding="utf-8"))
    shift_out, shift_in = (b"\x28", b"\x29") if name == "jef" else (b"\x0a\x42", b"\x0a\x41")
    checked = unmappable = 0
    seen = set()
    for e in entries:
        if "encode_only" in e["options"] or e["code"] in seen:
            continue
        seen.add(e["code"])
        got = (shift_out + bytes.fromhex(e["code"]) + shift_in).decode(name)
        if "unmappable" in e["options"]:
            assert 0xF000 <= ord(got) <= 0xF8FF  # no Unicode: a private-use 外字, never U+FFFD
            unmappable += 1
            continue
        base = "".join(chr(int(u, 16)) for u in e["unicode"].split())
        # the IVS selector is kept exactly where two JEF codes share the base character
        assert got in (base, base + chr(int(e["hd"], 16)) if e.get("hd") else base), e
        checked += 1
    assert checked > 6800 and (unmappable == 456 if name == "jef" else unmappable == 0)


def _row_by_row(codec, block, double_only):
    values, bad = [], []
    for row in block:
        try:
            text = (codec.decode_double if double_only else codec.decode)(row.tobytes())[0]
            values.append(text)
            bad.append(-1)
        except UnicodeDecodeError as exc:
            values.append(None)
            bad.append(exc.start)
    return values, bad


def _column(codec, block, double_only):
    from ikou.codecs.mainframe import SEPARATOR, decode_column
    text, first = decode_column(codec, block, double_only)
    values = text.split(SEPARATOR)[:-1]
    return [v if b < 0 else None for v, b in zip(values, first)], first.tolist()


# bytes a mainframe field is made of: shift codes, spaces, digits, kanji lead/trail bytes, junk
field_bytes = st.lists(st.sampled_from([0x0E, 0x0F, 0x28, 0x29, 0x38, 0x0A, 0x42, 0x41, 0x40, 0xF1, 0xC1,
                                        0xB3, 0xC5, 0xC0, 0xD0, 0x81, 0x45, 0xFF, 0x00, 0x80, 0xA1, 0x25]),
                       min_size=0, max_size=8)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["cp930", "cp939", "ebcdik", "jef", "jef_ebcdic", "keis", "cp037"]), st.booleans(),
       st.integers(1, 9), st.data())
def test_a_whole_column_decodes_exactly_like_row_by_row(name, double_only, width, data):
    import numpy as np

    from ikou.codecs.mainframe import single_byte_codec
    codec = mainframe_codecs().get(name) or single_byte_codec(name)
    if double_only and not codec.dbcs:
        double_only = False
    rows = data.draw(st.lists(st.one_of(st.binary(min_size=width, max_size=width),
                                        field_bytes.map(lambda b: (bytes(b) + b"\x40" * width)[:width])),
                              min_size=1, max_size=6))
    block = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(len(rows), width)
    assert _column(codec, block, double_only) == _row_by_row(codec, block, double_only)


def test_whole_column_on_published_code_points():
    import numpy as np
    codec = mainframe_codecs()["jef"]
    rows = [b"\x28\xc0\xd0\x29\x40\x40", b"\x28\x41\xa5\x29\x40\x40", b"\x28\x80\xa1\x29\x40\x40",
            b"\x28\xc0\x29\x40\x40\x40"]
    block = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(4, 6)
    values, bad = _column(codec, block, False)
    assert values[:3] == ["石  ", "丈\U000E0103  ", "\ue000  "] and bad == [-1, -1, -1, 1]
