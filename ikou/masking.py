"""Masking of sensitive values (個人番号 and the like) for every log, message and report.

A masked value shows a fixed run of asterisks and at most the last four characters, so neither
the number nor its length can be read from a report.
"""

from __future__ import annotations

import re

import polars as pl

VISIBLE = 4
STARS = "********"


def mask(value: str | None) -> str | None:
    if value is None:
        return None
    return STARS + value[-VISIBLE:] if len(value) > VISIBLE else STARS


def mask_expr(e: pl.Expr) -> pl.Expr:
    return (pl.when(e.str.len_chars() > VISIBLE).then(pl.lit(STARS) + e.str.slice(-VISIBLE))
            .when(e.is_not_null()).then(pl.lit(STARS)))


# 12 or more digits, ASCII or full-width, perhaps split by spaces (also the ideographic space),
# hyphens (also the full-width ones and ー) or dots: how a 個人番号 looks in any spelling a
# legacy export or a person types it. One pattern for Python's re, polars (Rust regex) and
# DuckDB (RE2); group 1 is the last four digits, with the separators between them.
DIGIT = "[0-9０-９]"
SEPARATOR = "[ 　－‐ー.・-]"
NUMBER_LIKE = f"(?:{DIGIT}{SEPARATOR}?){{8,}}((?:{DIGIT}{SEPARATOR}?){{3}}{DIGIT})"
_NUMBER_LIKE = re.compile(NUMBER_LIKE)
_DIGIT = re.compile(DIGIT)
# an ikou run id (pipeline/check.make_run_id: 20261202T032537418891Z-991015-7af86ecb): its time holds
# twelve digits, and a message naming a run must stay usable (ikou wrote it; nobody's number)
_RUN_ID = re.compile(r"(?<![0-9０-９])[0-9]{8}T[0-9]{12}Z-[0-9A-Za-z]{1,16}-[0-9a-f]{8}(?![0-9A-Za-z])")


def mask_number_like(text: str | None, keep_length: bool = False) -> str | None:
    """Mask every 個人番号-like run of a free text (a sample value, a message, a raw record) but
    its last four digits. ``keep_length``: one asterisk per digit, so that a fixed-width record
    keeps its byte offsets under a ruler."""
    if text is None:
        return None
    if not keep_length and _RUN_ID.search(text):
        pieces = _RUN_ID.split(text)
        ids = _RUN_ID.findall(text)
        return "".join(mask_number_like(p) + (ids[i] if i < len(ids) else "") for i, p in enumerate(pieces))
    if keep_length:
        return _NUMBER_LIKE.sub(lambda m: _DIGIT.sub("*", m.group(0)[:m.start(1) - m.start(0)]) + m.group(1), text)
    return _NUMBER_LIKE.sub(lambda m: STARS + m.group(1), text)


def mask_number_like_expr(e: pl.Expr) -> pl.Expr:
    """``mask_number_like`` as a polars expression."""
    return e.str.replace_all(NUMBER_LIKE, STARS + "${1}")


def mask_number_like_sql(column: str) -> str:
    """``mask_number_like`` as DuckDB SQL over a column."""
    return f"regexp_replace({column}, '{NUMBER_LIKE}', '{STARS}\\1', 'g')"
