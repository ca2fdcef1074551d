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


SEPARATOR = "\uffff"  # ends each value in decode_column's output (a noncharacter: no table maps to it)


@cache
def single_byte_codec(name: str) -> MixedCodec:
    """A single-byte codec of Python's own (cp037, cp500 …) as a MixedCodec, for decode_column."""
    sbcs = {}
    for b in range(256):
        try:
            sbcs[b] = bytes([b]).decode(name)
        except UnicodeDecodeError:
            pass
    return MixedCodec(name, sbcs)


@cache
def _sbcs_lut(codec: MixedCodec) -> tuple[np.ndarray, np.ndarray]:
    points = np.zeros(256, dtype=np.uint32)
    defined = np.zeros(256, dtype=bool)
    for b, text in codec.sbcs.items():
        points[b], defined[b] = ord(text), True
    return points, defined


def _marks(block: np.ndarray, code: bytes) -> np.ndarray:
    """Where a shift code starts in each row (a code may be two bytes: KEIS 0A42)."""
    hit = block == code[0]
    for k, byte in enumerate(code[1:], start=1):
        nxt = np.zeros_like(hit)
        nxt[:, :-k] = block[:, k:] == byte
        hit &= nxt
    return hit


def decode_column(codec: MixedCodec, block: np.ndarray, double_only: bool = False) -> tuple[str, np.ndarray]:
    """Decode every row of an (n, width) byte matrix at once, with numpy instead of a Python
    loop per value; exactly what ``codec.decode`` (or ``decode_double`` for ``double_only``
    fields, COBOL PIC N) gives row by row.

    Returns the n values, each followed by SEPARATOR, in one string, and per row the offset of
    the first byte that cannot be decoded (-1 if none). A row with an error decodes to something
    meaningless: the caller discards it.
    """
    n, width = block.shape
    cols = np.arange(width)
    if double_only:
        pairs = width // 2
        codes = (block[:, 0:2 * pairs:2].astype(np.int64) << 8) | block[:, 1:2 * pairs:2]
        points = codec._lut[codes]
        keep = np.ones(points.shape, dtype=bool)
        bad_at = np.where(points == 0, 2 * np.arange(pairs), width)
        if width % 2:
            bad_at = np.concatenate([bad_at, np.full((n, 1), width - 1)], axis=1)
    elif not any(_marks(block, code).any() for code in (codec.shift_out, *codec.also_shift_out, codec.shift_in)
                 if code):
        # no shift code anywhere in the column (digits, single-byte text): one table lookup
        sb_points, sb_defined = _sbcs_lut(codec)
        points = sb_points[block]
        keep = np.ones(block.shape, dtype=bool)
        bad_at = np.where(sb_defined[block], width, cols)
    else:
        shifts = [(c, 1) for c in (codec.shift_out, *codec.also_shift_out) if c] + \
                 ([(codec.shift_in, -1)] if codec.shift_in else [])
        event = np.zeros(block.shape, dtype=np.int8)
        in_shift = np.zeros(block.shape, dtype=bool)
        seg_start = np.zeros(block.shape, dtype=np.int64)  # first byte after the last shift code
        last = np.full(block.shape, -1, dtype=np.int64)
        for code, kind in shifts:
            hit = _marks(block, code)
            for k in range(len(code)):
                in_shift[:, k:] |= hit[:, :width - k] if k else hit
            event[hit] = kind
            last = np.where(hit, cols + len(code), last)  # the shift's end, for bytes after it
        # the state of each byte is set by the nearest shift code before it
        after = np.maximum.accumulate(np.where(event != 0, cols, -1), axis=1)
        state = np.take_along_axis(event, np.maximum(after, 0), axis=1)
        state[after < 0] = -1
        seg_start = np.take_along_axis(last, np.maximum(after, 0), axis=1)
        seg_start[after < 0] = 0
        double = (state == 1) & ~in_shift
        lead = double & ((cols - seg_start) % 2 == 0)
        has_trail = np.zeros(block.shape, dtype=bool)
        has_trail[:, :-1] = double[:, 1:] & ~lead[:, 1:]
        trail_byte = np.zeros(block.shape, dtype=np.int64)
        trail_byte[:, :-1] = block[:, 1:]
        single = ~double & ~in_shift
        sb_points, sb_defined = _sbcs_lut(codec)
        if codec.dbcs:
            db_points = codec._lut[(block.astype(np.int64) << 8) | trail_byte]
        else:
            db_points = np.zeros(block.shape, dtype=np.uint32)
        points = np.where(single, sb_points[block], np.where(lead, db_points, 0)).astype(np.uint32)
        keep = single | lead
        bad = (single & ~sb_defined[block]) | (lead & (~has_trail | (db_points == 0)))
        bad_at = np.where(bad, cols, width)
    first = bad_at.min(axis=1) if bad_at.size else np.full(n, width)
    first = np.where(first >= width, -1, first)
    sep = np.full((n, 1), ord(SEPARATOR), dtype=np.uint32)
    flat = np.concatenate([points.astype(np.uint32), sep], axis=1)[np.concatenate([keep, np.ones((n, 1), bool)],
                                                                                  axis=1)]
    flat[(flat >= 0xD800) & (flat < 0xE000)] = 0xFFFD  # only in rows already marked bad
    flat[flat > 0x10FFFF] = 0xFFFD
    text = flat.astype("<u4").tobytes().decode("utf-32-le")
    if _sequences(codec) and (flat >= SEQUENCE_BASE).any():
        text = text.translate(_sequences(codec))
    return text, first


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
