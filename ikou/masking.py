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


# 12 or more digits, ASCII or full-width, perhaps split by spaces or hyphens: how a 個人番号 looks
# in any spelling a legacy export or a person types it
_NUMBER_LIKE = re.compile(r"(?:[0-9０-９][ 　\-－‐ー]?){11,}[0-9０-９]")


def mask_number_like(text: str | None) -> str | None:
    """Mask every 個人番号-like run of a free text (a sample value, a message) but its last four
    characters."""
    if text is None:
        return None
    return _NUMBER_LIKE.sub(lambda m: STARS + m.group(0)[-VISIBLE:], text)
