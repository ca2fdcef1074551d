"""Mainframe Japanese character codes as Python codecs (DOMAIN.md §6).

Registered names (after ``import ikou.codecs``):

- ``cp930``: IBM EBCDIC Japanese, katakana single-byte set (cp290) + double-byte set (cp300)
  between shift-out 0x0E and shift-in 0x0F.
- ``cp939``: the same with the Latin single-byte set (cp1027, lower-case letters).
- ``ebcdik``: the cp290 single-byte set alone (EBCDIC with katakana; no shifts).

Tables come from glibc's IBM930/IBM939 charmaps (``scripts/build_ibm_tables.py``); nothing
outside Python is needed at run time. A byte or pair without a mapping is an error handed to
the codec error handler with its exact position, as Python's own codecs do: ``strict`` raises
``UnicodeDecodeError`` (start = byte offset), so the extractor can reject the record with its
offset; there is never a silent replacement character.

Decoding splits the input at its shift codes; single-byte runs go through
``codecs.charmap_decode`` and double-byte runs through a 65,536-entry numpy lookup table, so
no Python code runs per character.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import numpy as np

UNDEFINED = "\ufffe"  # charmap's marker for an undefined byte


def _table(name: str) -> dict[int, str]:
    """code -> decoded text (one character, or a base character and an IVS selector)."""
    text = (resources.files("ikou.codecs") / "data" / name).read_text(encoding="ascii")
    return {int(code, 16): "".join(chr(int(cp, 16)) for cp in points.split())
            for code, points in (line.split("\t") for line in text.splitlines() if line)}


@dataclass(frozen=True, eq=False)  # identity equality and hash: instances key the table caches
class MixedCodec:
    """A single-byte set and an optional double-byte set switched by shift-out / shift-in."""
    name: str
    sbcs: dict[int, str]
    dbcs: dict[int, str] = field(default_factory=dict)
    shift_out: bytes = b""
    shift_in: bytes = b""
    also_shift_out: tuple[bytes, ...] = ()  # further shift-out codes accepted when decoding

    @property
    def _charmap(self) -> str:
        return _charmap(self)

    @property
    def _lut(self) -> np.ndarray:
        return _lut(self)

    # -- decoding --------------------------------------------------------------------------------

    def decode(self, data: bytes, errors: str = "strict") -> tuple[str, int]:
        data = bytes(data)
        out: list[str] = []
        pos, n, double = 0, len(data), False
        while pos < n:
            so = next((s for s in (self.shift_out, *self.also_shift_out) if s and data.startswith(s, pos)), None)
            if so is not None:
                double, pos = True, pos + len(so)
                continue
            if self.shift_in and data.startswith(self.shift_in, pos):
                double, pos = False, pos + len(self.shift_in)
                continue
            end = self._next_shift(data, pos)
            text, bad = (self._decode_double if double else self._decode_single)(data, pos, end)
            out.append(text)
            if bad is None:
                pos = end
                continue
            width = 2 if double and bad + 1 < end else 1
            reason = ("double-byte character cut short" if double and bad + 1 >= end
                      else f"no mapping for {'pair' if double else 'byte'} {data[bad:bad + width].hex(' ').upper()}")
            exc = UnicodeDecodeError(self.name, data, bad, bad + width, reason)
            replacement, pos = codecs.lookup_error(errors)(exc)
            out.append(replacement)
        return "".join(out), n

    def _next_shift(self, data: bytes, pos: int) -> int:
        shifts = (self.shift_out, self.shift_in, *self.also_shift_out)
        ends = [i for i in (data.find(s, pos) for s in shifts if s) if i != -1]
        return min(ends, default=len(data))

    def decode_double(self, data: bytes, errors: str = "strict") -> tuple[str, int]:
        """A field that is double-byte throughout, with no shift codes at all."""
        out: list[str] = []
        pos = 0
        while pos < len(data):
            text, bad = self._decode_double(data, pos, len(data))
            out.append(text)
            if bad is None:
                break
            width = 2 if bad + 1 < len(data) else 1
            exc = UnicodeDecodeError(self.name, data, bad, bad + width, "no mapping for the pair"
                                     if width == 2 else "double-byte character cut short")
            replacement, pos = codecs.lookup_error(errors)(exc)
            out.append(replacement)
        return "".join(out), len(data)

    def _decode_single(self, data: bytes, start: int, end: int) -> tuple[str, int | None]:
        try:
            return codecs.charmap_decode(data[start:end], "strict", self._charmap)[0], None
        except UnicodeDecodeError as exc:
            return codecs.charmap_decode(data[start:start + exc.start], "strict", self._charmap)[0], start + exc.start

    def _decode_double(self, data: bytes, start: int, end: int) -> tuple[str, int | None]:
        pairs = (end - start) // 2
        codes = np.frombuffer(data, dtype=">u2", count=pairs, offset=start) if pairs else np.zeros(0, np.uint16)
        points = self._lut[codes]
        missing = np.flatnonzero(points == 0)
        good = int(missing[0]) if len(missing) else pairs
        text = points[:good].astype("<u4").tobytes().decode("utf-32-le")
        if _sequences(self):  # codes that decode to a base character and an IVS selector
            text = text.translate(_sequences(self))
        if good < pairs:
            return text, start + 2 * good
        if (end - start) % 2:
            return text, end - 1
        return text, None

    # -- encoding --------------------------------------------------------------------------------

    def encode(self, text: str, errors: str = "strict") -> tuple[bytes, int]:
        single, double = _reverse(self)
        out = bytearray()
        shifted = False
        i = 0
        while i < len(text):
            cp = ord(text[i])
            pair = text[i:i + 2]
            if len(pair) == 2 and 0xE0100 <= ord(pair[1]) <= 0xE01EF and pair in double:
                if not shifted:
                    out += self.shift_out
                    shifted = True
                out += double[pair].to_bytes(2, "big")
                i += 2
                continue
            if cp in single:
                if shifted:
                    out += self.shift_in
                    shifted = False
                out.append(single[cp])
            elif text[i] in double:
                if not shifted:
                    out += self.shift_out
                    shifted = True
                out += double[text[i]].to_bytes(2, "big")
            else:
                exc = UnicodeEncodeError(self.name, text, i, i + 1, "no mapping in this code")
                replacement, i = codecs.lookup_error(errors)(exc)
                out += self.encode(replacement if isinstance(replacement, str) else replacement.decode(), "strict")[0]
                continue
            i += 1
        if shifted:
            out += self.shift_in
        return bytes(out), len(text)


SEQUENCE_BASE = 0x100000  # placeholders (plane 16) for codes that decode to several code points


@cache
def _charmap(codec: MixedCodec) -> str:
    return "".join(codec.sbcs[b] if b in codec.sbcs else UNDEFINED for b in range(256))


@cache
def _multi(codec: MixedCodec) -> dict[int, str]:
    """Double-byte codes that decode to more than one code point, numbered."""
    return {code: text for code, text in sorted(codec.dbcs.items()) if len(text) > 1}


@cache
def _sequences(codec: MixedCodec) -> dict[int, str]:
    return {SEQUENCE_BASE + k: text for k, text in enumerate(_multi(codec).values())}


@cache
def _lut(codec: MixedCodec) -> np.ndarray:
    lut = np.zeros(1 << 16, dtype=np.uint32)
    number = {code: k for k, code in enumerate(_multi(codec))}
    for code, text in codec.dbcs.items():
        lut[code] = SEQUENCE_BASE + number[code] if code in number else ord(text)
    return lut


@cache
def _reverse(codec: MixedCodec) -> tuple[dict[int, int], dict[str, int]]:
    """Encoding: single-byte code per code point, double-byte code per text (character or
    character + IVS); the first code listed wins."""
    single: dict[int, int] = {}
    for b, text in sorted(codec.sbcs.items()):
        single.setdefault(ord(text), b)
    double: dict[str, int] = {}
    for code, text in sorted(codec.dbcs.items()):
        if len(text) > 1 or ord(text) not in single:
            double.setdefault(text, code)
    return single, double


@cache
def mainframe_codecs() -> dict[str, MixedCodec]:
    ibm = _table("ibm300_dbcs.tsv")
    jef = _table("jef_dbcs.tsv")
    return {
        "cp930": MixedCodec("cp930", _table("ibm930_sbcs.tsv"), ibm, b"\x0e", b"\x0f"),
        "cp939": MixedCodec("cp939", _table("ibm939_sbcs.tsv"), ibm, b"\x0e", b"\x0f"),
        "ebcdik": MixedCodec("ebcdik", _table("ibm930_sbcs.tsv")),
        # Fujitsu JEF: kanji shift-out 0x28 (K1 0x38 accepted too), shift-in 0x29
        "jef": MixedCodec("jef", _table("fujitsu_ebcdik.tsv"), jef, b"\x28", b"\x29", (b"\x38",)),
        "jef_ebcdic": MixedCodec("jef_ebcdic", _table("fujitsu_ebcdic.tsv"), jef, b"\x28", b"\x29", (b"\x38",)),
        # Hitachi KEIS (KEIS83): shift-out 0A42, shift-in 0A41
        "keis": MixedCodec("keis", _table("hitachi_ebcdik.tsv"), _table("keis83_dbcs.tsv"), b"\x0a\x42",
                           b"\x0a\x41"),
    }


ALIASES = {"ibm930": "cp930", "ibm_930": "cp930", "ibm939": "cp939", "ibm_939": "cp939", "ebcdic_kana": "ebcdik",
           "keis83": "keis"}


def _search(name: str) -> codecs.CodecInfo | None:
    key = name.lower().replace("-", "_")
    key = ALIASES.get(key, key)
    codec = mainframe_codecs().get(key)
    if codec is None:
        return None
    return codecs.CodecInfo(name=codec.name, encode=codec.encode, decode=codec.decode)


codecs.register(_search)
