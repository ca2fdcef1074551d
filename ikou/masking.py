"""Masking of sensitive values (個人番号 and the like) for every log, message and report.

A masked value shows a fixed run of asterisks and at most the last four characters, so neither
the number nor its length can be read from a report.
"""

from __future__ import annotations

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
