"""IBM Japanese EBCDIC codecs (cp930, cp939, ebcdik): published code points, a round trip over
every JIS X 0208 character, exact error offsets, and agreement with glibc iconv (an
independent implementation of the shift-state logic; the tables themselves come from it)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ikou.codecs  # noqa: F401  (registers the codecs)
from ikou.codecs.mainframe import mainframe_codecs

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
    pool = [chr(c) for c in codec.sbcs.values() if c >= 0x20] + [chr(c) for c in list(codec.dbcs.values())[::7]]
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
