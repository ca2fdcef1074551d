"""COBOL numeric fields: packed decimal (COMP-3), zoned decimal (DISPLAY), binary (COMP, COMP-4,
COMP-5) and floating point (COMP-1, COMP-2) (DOMAIN.md §6).

Each decodes a whole column at once: the field's bytes for N records as an (N, width) uint8
matrix, the result the unscaled values plus the byte offset of the first bad byte per record
(-1 when the value is good). Values of up to 18 digits are an Int64 numpy array; wider packed
and zoned fields (to 31 digits, IBM's ARITH(EXTEND)) a polars Int128 series. Money stays exact:
the caller applies the implied decimal places as a scale, never as a float.

Packed decimal: two digits per byte, the last nibble is the sign: C (and A, E) positive,
D (and B) negative, F unsigned. −12345 → 12 34 5D. A field of w bytes holds 2w − 1 digits:
up to 16 bytes (31 digits).

Binary: two's complement (signed) or plain (unsigned) integers of 1 to 8 bytes, big-endian
(``binary``: COMP, BINARY, COMP-4 — the byte order COBOL defines for them on every platform)
or the machine's order (``native_binary``: COMP-5, little-endian on x86). COBOL sizes them by
the PIC's digits: 1–4 → 2 bytes, 5–9 → 4, 10–18 → 8 (``binary_length``).

Floating point: IEEE 754 single (COMP-1, 4 bytes) or double (COMP-2, 8 bytes) as GnuCOBOL and
Micro Focus write them (native order); the value is the float itself, widened exactly to a
double. Floats are not money: the mapping check refuses a float field for a money item.

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
import polars as pl

POSITIVE_SIGNS = (0xA, 0xC, 0xE, 0xF)
NEGATIVE_SIGNS = (0xB, 0xD)
INT64_DIGITS = 18  # every value of 18 digits fits in Int64
MAX_DIGITS = 31  # packed and zoned: IBM's ARITH(EXTEND) maximum, within Int128
MAX_PACKED_BYTES = (MAX_DIGITS + 1) // 2


def _first_bad(bad: np.ndarray) -> np.ndarray:
    """Per row, the column of the first True (-1 when none)."""
    any_bad = bad.any(axis=1)
    return np.where(any_bad, bad.argmax(axis=1), -1)


def _horner(digits: np.ndarray) -> np.ndarray:
    out = np.zeros(digits.shape[0], dtype=np.int64)
    for j in range(digits.shape[1]):
        out = out * 10 + digits[:, j]
    return out


def _digits_to_int(digits: np.ndarray, negative: np.ndarray) -> np.ndarray | pl.Series:
    """(N, k) digit matrix and signs -> values, exact (Horner's rule in integers): Int64 up to 18
    digits, beyond that the high digits and the low 18 joined in polars' Int128."""
    if digits.shape[1] <= INT64_DIGITS:
        values = _horner(digits)
        return np.where(negative, -values, values)
    high, low = _horner(digits[:, :-INT64_DIGITS]), _horner(digits[:, -INT64_DIGITS:])
    frame = pl.DataFrame({"h": high, "l": low, "n": negative})
    magnitude = pl.col("h").cast(pl.Int128) * pl.lit(10 ** INT64_DIGITS, dtype=pl.Int128) + pl.col("l")
    return frame.select(pl.when(pl.col("n")).then(pl.lit(0, dtype=pl.Int128) - magnitude).otherwise(magnitude).alias("v")).to_series()


def decode_packed(field: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Packed decimal column -> (values, first bad byte offset within the field or -1)."""
    field = np.asarray(field, dtype=np.uint8)
    if field.ndim != 2 or field.shape[1] == 0:
        raise ValueError("a packed field is an (N, width) byte matrix with width >= 1")
    if field.shape[1] > MAX_PACKED_BYTES:
        raise ValueError(f"packed fields hold up to {MAX_DIGITS} digits ({MAX_PACKED_BYTES} bytes)")
    high = (field >> 4).astype(np.int64)
    low = (field & 0x0F).astype(np.int64)
    sign = low[:, -1]
    digits = np.empty((field.shape[0], 2 * field.shape[1] - 1), dtype=np.int64)
    digits[:, 0::2] = high
    digits[:, 1::2] = low[:, :-1]
    bad_bytes = (high > 9)
    bad_bytes[:, :-1] |= low[:, :-1] > 9
    bad_bytes[:, -1] |= ~np.isin(sign, POSITIVE_SIGNS + NEGATIVE_SIGNS)
    return _digits_to_int(np.minimum(digits, 9), np.isin(sign, NEGATIVE_SIGNS)), _first_bad(bad_bytes)


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
        raise ValueError(f"zoned fields hold 1 to {MAX_DIGITS} digits")
    high = (field >> 4).astype(np.int64)
    digits = (field & 0x0F).astype(np.int64)
    bad_bytes = np.zeros(field.shape, dtype=bool)
    if separate:
        plus, minus = (0x4E, 0x60) if zone == 0xF else (0x2B, 0x2D)
        mark = field[:, at]
        bad_bytes[:, at] = (mark != plus) & (mark != minus)
        body = slice(None, -1) if at == -1 else slice(1, None)
        bad_bytes[:, body] = (digits[:, body] > 9) | (high[:, body] != zone)
        return _digits_to_int(np.minimum(digits[:, body], 9), mark == minus), _first_bad(bad_bytes)
    table, negative = _sign_table(zone, overpunch)
    sign_digit = table[field[:, at]]
    bad_bytes |= (digits > 9) | (high != zone)
    bad_bytes[:, at] = sign_digit < 0
    digits[:, at] = np.maximum(sign_digit, 0)
    return _digits_to_int(np.minimum(digits, 9), negative[field[:, at]]), _first_bad(bad_bytes)


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


BINARY_TYPES = {"binary": "big", "native_binary": "little"}  # field type -> byte order
FLOAT_LENGTHS = {4: "COMP-1", 8: "COMP-2"}


def binary_length(digits: int) -> int:
    """Bytes COBOL gives a binary item of ``digits`` PIC digits (1–4 → 2, 5–9 → 4, 10–18 → 8)."""
    if not 1 <= digits <= INT64_DIGITS:
        raise ValueError(f"binary items hold 1 to {INT64_DIGITS} digits")
    return 2 if digits <= 4 else 4 if digits <= 9 else 8


def decode_binary(field: np.ndarray, byte_order: str = "big", signed: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Binary integer column (1 to 8 bytes) -> (Int64 values, first bad byte or -1): an unsigned
    8-byte value beyond Int64 is bad at its first byte (no PIC of 18 digits reaches it)."""
    field = np.asarray(field, dtype=np.uint8)
    if field.ndim != 2 or not 1 <= field.shape[1] <= 8:
        raise ValueError("a binary field is an (N, width) byte matrix of 1 to 8 bytes")
    width = field.shape[1]
    ordered = field if byte_order == "big" else field[:, ::-1]
    raw = np.zeros(field.shape[0], dtype=np.uint64)
    for j in range(width):
        raw = (raw << np.uint64(8)) | ordered[:, j].astype(np.uint64)
    bad = np.full(field.shape[0], -1, dtype=np.int64)
    if signed and width < 8:
        top = (raw >> np.uint64(8 * width - 1)) & np.uint64(1)
        values = raw.astype(np.int64) - (top.astype(np.int64) << (8 * width))
    else:
        values = raw.view(np.int64)  # 8 bytes signed: two's complement as stored
        if not signed:
            too_big = values < 0
            bad[too_big] = 0 if byte_order == "big" else width - 1
            values = np.where(too_big, 0, values)
    return values, bad


def encode_binary(values: np.ndarray, width: int, byte_order: str = "big", signed: bool = True) -> np.ndarray:
    """Int64 values -> (N, width) binary bytes (the reference writer of the tests)."""
    values = np.asarray(values, dtype=np.int64)
    lo, hi = (-(2 ** (8 * width - 1)), 2 ** (8 * width - 1) - 1) if signed else (0, 2 ** (8 * width) - 1)
    if np.any(values < lo) or np.any(values > min(hi, 2 ** 63 - 1)):
        raise ValueError(f"a value does not fit in {width} {'signed' if signed else 'unsigned'} binary bytes")
    as_bytes = values.astype(">i8").view(np.uint8).reshape(-1, 8)[:, 8 - width:]
    return np.ascontiguousarray(as_bytes if byte_order == "big" else as_bytes[:, ::-1])


def decode_float(field: np.ndarray, byte_order: str = "little") -> tuple[np.ndarray, np.ndarray]:
    """IEEE 754 column of 4 (COMP-1) or 8 (COMP-2) bytes -> (Float64 values, first bad byte or -1):
    NaN and infinity are bad (no COBOL arithmetic result is either)."""
    field = np.asarray(field, dtype=np.uint8)
    if field.ndim != 2 or field.shape[1] not in FLOAT_LENGTHS:
        raise ValueError("a float field is an (N, 4) or (N, 8) byte matrix")
    kind = ("<" if byte_order == "little" else ">") + ("f4" if field.shape[1] == 4 else "f8")
    values = np.ascontiguousarray(field).view(kind).ravel().astype(np.float64)
    bad = np.where(np.isfinite(values), -1, 0).astype(np.int64)
    return np.where(bad < 0, values, 0.0), bad


NUMBER_TYPES = ("packed", "zoned", "binary", "native_binary", "float")


def decode_number(field: np.ndarray, spec, zone: int) -> tuple[np.ndarray | pl.Series, np.ndarray]:
    """A number field of a fixed-width record (``spec``: its FieldSpec) -> (values, first bad byte
    or -1): integers unscaled (see ``decode_packed`` …), floats as Float64."""
    if spec.type == "packed":
        return decode_packed(field)
    if spec.type == "zoned":
        return decode_zoned(field, zone=zone, sign=spec.sign, overpunch=spec.overpunch)
    if spec.type == "float":
        return decode_float(field, spec.byte_order)
    return decode_binary(field, BINARY_TYPES[spec.type], signed=spec.signed is not False)
