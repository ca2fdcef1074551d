"""Mainframe numeric fields: packed decimal (COMP-3) and zoned decimal (DOMAIN.md §6).

Both decode a whole column at once: the field's bytes for N records as an (N, width) uint8
matrix, the result an Int64 array of unscaled values plus the byte offset of the first bad byte
per record (-1 when the value is good). Money stays exact: the caller applies the implied
decimal places as a scale (polars Decimal), never as a float.

Packed decimal: two digits per byte, the last nibble is the sign: C (and A, E) positive,
D (and B) negative, F unsigned. −12345 → 12 34 5D. Up to 18 digits (width ≤ 9 bytes plus the
sign nibble, i.e. 10 bytes) fit in Int64.

Zoned decimal: one digit per byte in the low nibble; the other bytes carry the zone F (EBCDIC
digits F0–F9) or 3 (ASCII digits 30–39), as the file's encoding says. The sign, as COBOL writes
``PIC S9(n)`` (``sign``):

- ``trailing`` (the default) / ``leading``: the last / first byte carries it ("overpunched"), as
  ``overpunch`` says — ``ebcdic``: zone C or F positive, D negative (IBM mainframes);
  ``ascii``: 30–39 positive, 70–79 ("p"–"y") negative (GnuCOBOL, Micro Focus, opensource COBOL, IBM
  COBOL with native character data); ``ibm``: the EBCDIC convention carried into ASCII, "{" and
  "A"–"I" positive 0–9, "}" and "J"–"R" negative 0–9 (plain digits positive); ``auto``: EBCDIC
  files read as ``ebcdic``, ASCII files accept every ASCII form at once (they never overlap) and
  the zones C/D;
- ``trailing_separate`` / ``leading_separate`` (SIGN … SEPARATE): one more byte after / before the
  digits holding "+" or "-" (EBCDIC 4E / 60); every digit byte then has the plain zone.
"""

from __future__ import annotations

import numpy as np

POSITIVE_SIGNS = (0xA, 0xC, 0xE, 0xF)
NEGATIVE_SIGNS = (0xB, 0xD)
MAX_DIGITS = 18


def _first_bad(bad: np.ndarray) -> np.ndarray:
    """Per row, the column of the first True (-1 when none)."""
    any_bad = bad.any(axis=1)
    return np.where(any_bad, bad.argmax(axis=1), -1)


def _digits_to_int(digits: np.ndarray) -> np.ndarray:
    """(N, k) digit matrix -> Int64 values (exact: Horner's rule in integers)."""
    out = np.zeros(digits.shape[0], dtype=np.int64)
    for j in range(digits.shape[1]):
        out = out * 10 + digits[:, j]
    return out


def decode_packed(field: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Packed decimal column -> (values, first bad byte offset within the field or -1)."""
    field = np.asarray(field, dtype=np.uint8)
    if field.ndim != 2 or field.shape[1] == 0:
        raise ValueError("a packed field is an (N, width) byte matrix with width >= 1")
    if 2 * field.shape[1] - 1 > MAX_DIGITS:
        raise ValueError(f"packed fields wider than {(MAX_DIGITS + 1) // 2} bytes do not fit in 64 bits")
    high = (field >> 4).astype(np.int64)
    low = (field & 0x0F).astype(np.int64)
    sign = low[:, -1]
    digits = np.empty((field.shape[0], 2 * field.shape[1] - 1), dtype=np.int64)
    digits[:, 0::2] = high
    digits[:, 1::2] = low[:, :-1]
    bad_bytes = (high > 9)
    bad_bytes[:, :-1] |= low[:, :-1] > 9
    bad_bytes[:, -1] |= ~np.isin(sign, POSITIVE_SIGNS + NEGATIVE_SIGNS)
    values = _digits_to_int(np.minimum(digits, 9))
    values = np.where(np.isin(sign, NEGATIVE_SIGNS), -values, values)
    return values, _first_bad(bad_bytes)


def encode_packed(values: np.ndarray, width: int, signed: bool = True) -> np.ndarray:
    """Int64 values -> (N, width) packed decimal bytes (sign C/D, or F when unsigned)."""
    values = np.asarray(values, dtype=np.int64)
    n_digits = 2 * width - 1
    if np.any(np.abs(values) >= 10 ** n_digits):
        raise ValueError(f"a value does not fit in {width} packed bytes")
    mag = np.abs(values)
    digits = np.zeros((len(values), n_digits), dtype=np.uint8)
    for j in range(n_digits - 1, -1, -1):
        digits[:, j] = mag % 10
        mag //= 10
    sign = np.where(values < 0, 0xD, 0xC) if signed else np.full(len(values), 0xF)
    nibbles = np.concatenate([digits, sign[:, None].astype(np.uint8)], axis=1)
    return ((nibbles[:, 0::2] << 4) | nibbles[:, 1::2]).astype(np.uint8)


SIGN_FORMS = ("trailing", "leading", "trailing_separate", "leading_separate")
OVERPUNCH = ("auto", "ascii", "ibm", "ebcdic")


def _sign_table(zone: int, overpunch: str) -> tuple[np.ndarray, np.ndarray]:
    """For an overpunched sign byte: its digit (-1: not a sign byte of this convention) and
    whether it is negative, for every byte value."""
    digit = np.full(256, -1, dtype=np.int64)
    negative = np.zeros(256, dtype=bool)
    mode = ("ebcdic" if zone == 0xF else "ascii+ibm") if overpunch == "auto" else overpunch

    def put(byte: int, d: int, neg: bool) -> None:
        digit[byte], negative[byte] = d, neg
    for d in range(10):
        put((zone << 4) | d, d, False)  # the plain zone: positive (an unsigned-looking value)
        if mode == "ebcdic" or (overpunch == "auto" and zone != 0xF):
            put(0xC0 | d, d, False)
            put(0xF0 | d, d, False)
            put(0xD0 | d, d, True)
        if mode in ("ascii", "ascii+ibm"):
            put(0x70 | d, d, True)
        if mode in ("ibm", "ascii+ibm"):
            put(ord("ABCDEFGHI"[d - 1]) if d else ord("{"), d, False)
            put(ord("JKLMNOPQR"[d - 1]) if d else ord("}"), d, True)
    return digit, negative


def zoned_width(digits: int, sign: str = "trailing") -> int:
    """Bytes of a zoned field of ``digits`` digits in a sign form (SEPARATE adds one)."""
    return digits + (1 if sign.endswith("_separate") else 0)


def decode_zoned(field: np.ndarray, zone: int = 0xF, sign: str = "trailing",
                 overpunch: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Zoned decimal column -> (values, first bad byte offset within the field or -1).
    ``zone``: 0xF for EBCDIC digits (F0–F9), 0x3 for ASCII digits (30–39); ``sign`` and
    ``overpunch``: the module docstring."""
    field = np.asarray(field, dtype=np.uint8)
    if field.ndim != 2 or field.shape[1] == 0:
        raise ValueError("a zoned field is an (N, width) byte matrix with width >= 1")
    if sign not in SIGN_FORMS or overpunch not in OVERPUNCH:
        raise ValueError(f"sign {sign!r} / overpunch {overpunch!r}: not one of {SIGN_FORMS} / {OVERPUNCH}")
    separate = sign.endswith("_separate")
    at = -1 if sign.startswith("trailing") else 0  # the column holding the sign
    n_digits = field.shape[1] - (1 if separate else 0)
    if n_digits < 1 or n_digits > MAX_DIGITS:
        raise ValueError(f"zoned fields of 1 to {MAX_DIGITS} digits fit in 64 bits")
    high = (field >> 4).astype(np.int64)
    digits = (field & 0x0F).astype(np.int64)
    bad_bytes = np.zeros(field.shape, dtype=bool)
    if separate:
        plus, minus = (0x4E, 0x60) if zone == 0xF else (0x2B, 0x2D)
        mark = field[:, at]
        bad_bytes[:, at] = (mark != plus) & (mark != minus)
        body = slice(None, -1) if at == -1 else slice(1, None)
        bad_bytes[:, body] = (digits[:, body] > 9) | (high[:, body] != zone)
        values = _digits_to_int(np.minimum(digits[:, body], 9))
        values = np.where(mark == minus, -values, values)
        return values, _first_bad(bad_bytes)
    table, negative = _sign_table(zone, overpunch)
    sign_digit = table[field[:, at]]
    bad_bytes |= (digits > 9) | (high != zone)
    bad_bytes[:, at] = sign_digit < 0
    digits[:, at] = np.maximum(sign_digit, 0)
    values = _digits_to_int(np.minimum(digits, 9))
    values = np.where(negative[field[:, at]], -values, values)
    return values, _first_bad(bad_bytes)


def encode_zoned(values: np.ndarray, width: int, zone: int = 0xF, signed: bool = True) -> np.ndarray:
    """Int64 values -> (N, width) zoned decimal bytes (last zone C/D when signed)."""
    values = np.asarray(values, dtype=np.int64)
    if np.any(np.abs(values) >= 10 ** width):
        raise ValueError(f"a value does not fit in {width} zoned bytes")
    mag = np.abs(values)
    out = np.zeros((len(values), width), dtype=np.uint8)
    for j in range(width - 1, -1, -1):
        out[:, j] = (zone << 4) | (mag % 10)
        mag //= 10
    if signed:
        last_zone = np.where(values < 0, 0xD, 0xC).astype(np.uint8)
        out[:, -1] = (last_zone << 4) | (out[:, -1] & 0x0F)
    return out
