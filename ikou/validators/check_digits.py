"""Check digits of Japanese public identifiers (DOMAIN.md §4).

Each scheme has a plain-Python reference (``*_check_digit``: base digits -> check digit) and a
vectorised polars expression (``valid_expr``) used by the pandera schema. Tests hold the two
against each other and against published examples.

Decisions where the public rule is silent (documented in docs/layouts.md):
- 住民票コード uses the 個人番号 weights over its 10 base digits, remainder <= 1 -> 0.
- 宛名番号 / 世帯番号 ("modulus11"): weights 2..7 repeating from the right over any length,
  remainder 0 or 1 -> check digit 0 (the same convention as 個人番号).
"""

from __future__ import annotations

import functools

import polars as pl

MAX_MODULUS11_LENGTH = 15


def _mod11_weights_from_right(n: int) -> list[int]:
    return [2 + (k % 6) for k in range(n)]


def modulus11_check_digit(base: str) -> int:
    """Weights 2,3,4,5,6,7,2,… from the right; remainder r <= 1 gives 0, else 11 - r."""
    digits = [int(c) for c in reversed(base)]
    r = sum(d * w for d, w in zip(digits, _mod11_weights_from_right(len(digits)))) % 11
    return 0 if r <= 1 else 11 - r


def individual_number_check_digit(base11: str) -> int:
    """個人番号: 11 base digits -> check digit. 12345678901 -> 8."""
    if len(base11) != 11 or not base11.isdigit():
        raise ValueError("個人番号 base must be 11 digits")
    return modulus11_check_digit(base11)


def resident_code_check_digit(base10: str) -> int:
    """住民票コード: 10 base digits -> check digit. 1234567890 -> 3."""
    if len(base10) != 10 or not base10.isdigit():
        raise ValueError("住民票コード base must be 10 digits")
    return modulus11_check_digit(base10)


def lg_code_check_digit(base5: str) -> int:
    """全国地方公共団体コード: weights 6,5,4,3,2; check = last digit of 11 - (sum mod 11)."""
    if len(base5) != 5 or not base5.isdigit():
        raise ValueError("地方公共団体コード base must be 5 digits")
    r = sum(int(c) * w for c, w in zip(base5, (6, 5, 4, 3, 2))) % 11
    return (11 - r) % 10


def is_valid(kind: str, value: str) -> bool:
    """Reference validity of a full identifier (base + check digit)."""
    if not value or not value.isdigit():
        return False
    base, check = value[:-1], int(value[-1])
    if kind == "lg_code":
        return len(value) == 6 and lg_code_check_digit(base) == check
    if kind == "individual_number":
        return len(value) == 12 and modulus11_check_digit(base) == check
    if kind == "resident_code":
        return len(value) == 11 and modulus11_check_digit(base) == check
    if kind == "modulus11":
        return 2 <= len(value) <= MAX_MODULUS11_LENGTH and modulus11_check_digit(base) == check
    raise ValueError(f"unknown check digit scheme {kind!r}")


_LENGTHS = {"lg_code": 6, "individual_number": 12, "resident_code": 11}


def number_expr(kind: str, expr: pl.Expr) -> pl.Expr:
    """The identifier as Int64 where it is digits of the scheme's length, else null.

    No regex: the byte length says the width, and an unsigned cast fails on anything but digits
    except a leading '+', excluded apart (a regex per value cost as much as the whole check)."""
    if kind not in _LENGTHS and kind != "modulus11":
        raise ValueError(f"unknown check digit scheme {kind!r}")
    width = _LENGTHS.get(kind, MAX_MODULUS11_LENGTH)
    size = expr.str.len_bytes()
    fits = size == width if kind in _LENGTHS else size.is_between(2, width)
    number = expr.cast(pl.UInt64, strict=False)
    return pl.when(fits & number.is_not_null() & ~expr.str.starts_with("+")).then(number.cast(pl.Int64))


@functools.cache  # built once per width: a check runs on every chunk
def _group_tables(width: int) -> tuple[pl.Series, ...]:
    """For each group of three base digits (from the right), its weighted digit sum by value."""
    weights = _mod11_weights_from_right(width - 1)
    return tuple(pl.Series([sum((g // 10 ** i) % 10 * w for i, w in enumerate(weights[j:j + 3])) for g in range(1000)],
                           dtype=pl.Int64)
                 for j in range(0, width - 1, 3))


def valid_number_expr(kind: str, number: pl.Expr) -> pl.Expr:
    """True where the check digit of ``number`` (from ``number_expr``, best a materialised
    column: it is read once per digit group) is right, and where number is null: nulls and
    malformed values are reported once, by the required and pattern checks.

    Integer arithmetic on groups of three digits of the base (``base // 1000**j % 1000``), each
    looked up in a table of its weighted digit sum; leading zeros add nothing to the sum.
    """
    width = _LENGTHS.get(kind, MAX_MODULUS11_LENGTH)
    base = number // 10
    # weights 2,3,4,5,6,7,2,… from the right; for lg_code that is 6,5,4,3,2 from the left
    total = sum(pl.lit(table).gather((base // 1000 ** j) % 1000) for j, table in enumerate(_group_tables(width)))
    r = total % 11
    expected = (11 - r) % 10 if kind == "lg_code" else pl.when(r <= 1).then(0).otherwise(11 - r)
    return (number % 10 == expected).fill_null(True)


def valid_frame(kind: str, lf: pl.LazyFrame, column: str) -> pl.LazyFrame:
    """One boolean column: the check digit of ``column`` is right (see ``valid_number_expr``)."""
    return lf.select(number_expr(kind, pl.col(column)).alias("__n")).select(
        valid_number_expr(kind, pl.col("__n")).alias(column))


def valid_expr(kind: str, col: str | pl.Expr) -> pl.Expr:
    """Single-expression form of ``valid_frame`` (re-parses the number per digit: for small data)."""
    expr = pl.col(col) if isinstance(col, str) else col
    return valid_number_expr(kind, number_expr(kind, expr))
