"""Small polars expression helpers shared by the pipeline."""

from __future__ import annotations

import numpy as np
import polars as pl


def fmt(template: str, *exprs: pl.Expr) -> pl.Expr:
    """Like ``pl.format`` ('{}' placeholders), built on ``concat_str``: in polars 2.1,
    ``pl.format`` over a string column of a filtered frame panicked (binview index assertion);
    ``concat_str`` on the same data does not. Null in any part gives null, as with pl.format."""
    parts = template.split("{}")
    if len(parts) != len(exprs) + 1:
        raise ValueError(f"template {template!r} has {len(parts) - 1} placeholders for {len(exprs)} values")
    out: list[pl.Expr] = []
    for i, text in enumerate(parts):
        if text:
            out.append(pl.lit(text))
        if i < len(exprs):
            out.append(exprs[i].cast(pl.String))
    return pl.concat_str(out)


Layers = tuple[list[list[pl.Expr]], list[str]]  # with_columns one after the other, then columns to drop


def apply_layers(lf: pl.LazyFrame, layers: Layers) -> pl.LazyFrame:
    """Apply expression layers built once (a stage runs on every chunk: building ~1,000
    expressions again each time cost ~30 ms of Python per chunk)."""
    steps, drop = layers
    for exprs in steps:
        if exprs:
            lf = lf.with_columns(exprs)
    return lf.drop(drop) if drop else lf


def key_hash(columns: list[str] | tuple[str, ...]) -> pl.Expr:
    """A row's 64-bit hash of ``columns`` (equal keys, nulls included, hash alike in one process)."""
    return pl.struct(list(columns)).hash(0)


def repeated_hashes(rows: pl.LazyFrame, columns: list[str] | tuple[str, ...]) -> pl.Series:
    """The key hashes (``key_hash``) that more than one row of ``rows`` has. Holds 8 bytes a row,
    sorted in numpy, where a group_by or ``is_duplicated`` over the keys held every key's text in
    a hash table (~0.2 GB a million rows): the set-level rules stay flat as exports grow. Two
    different keys sharing a hash only add candidates: callers confirm on the (few) rows whose
    hash repeats, by the keys themselves."""
    hashes = np.sort(rows.select(key_hash(columns)).collect(engine="streaming").to_series().to_numpy())
    return pl.Series(np.unique(hashes[1:][hashes[1:] == hashes[:-1]]), dtype=pl.UInt64)


def latest_records(rows: pl.LazyFrame, person: str, version: tuple[str, ...] | list[str]) -> pl.LazyFrame:
    """Each person's latest record: the highest of the ``version`` items, most significant
    first (個人履歴番号, then 枝番号). An empty version item counts as below every value (a flat
    export without 枝番号 has one record per 履歴番号). ``rows`` in ``_rid`` order. A person with one record is their
    latest; only the records of people with several (found by ``repeated_hashes``) go through
    the window, which holds its whole input."""
    several = key_hash([person]).is_in(repeated_hashes(rows, [person]).implode())
    history = rows.filter(several)
    for v in version:
        ordered = pl.col(v).cast(pl.Int64, strict=False).fill_null(-1)
        history = history.filter(ordered == ordered.max().over(person))
    # both in the order of ``rows`` (record order in the pipeline): merged back in it, streaming
    return rows.filter(~several).merge_sorted(history, "_rid")
