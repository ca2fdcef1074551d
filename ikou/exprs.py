"""Small polars expression helpers shared by the pipeline."""

from __future__ import annotations

import math

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


# Values cost about 1 µs each to cleanse or parse with regular expressions, and a join back
# about 0.3 µs per row: computing per distinct value pays when at most half the values differ.
DISTINCT_SAMPLE = 2000
DISTINCT_RATIO = 0.5


def repeated_columns(lf: pl.LazyFrame, columns: list[str]) -> set[str]:
    """The columns whose values repeat enough that a computation is cheaper once per distinct
    value (``per_distinct``), judged on rows sampled evenly. Only speed depends on this guess."""
    if not columns:
        return set()
    n = lf.select(pl.len()).collect().item()
    sample = lf.select(columns).gather_every(max(1, n // DISTINCT_SAMPLE)).collect()
    return {c for c in columns
            if expected_distinct(sample[c].n_unique(), sample.height, n) <= DISTINCT_RATIO * n}


def expected_distinct(seen: int, sampled: int, rows: int) -> float:
    """Distinct values expected among ``rows`` values when ``sampled`` of them showed ``seen``:
    the number of equally likely values D solving seen = D(1 - exp(-sampled/D)) (found by
    bisection), then D(1 - exp(-rows/D)). A sample without repeats says nothing: all distinct."""
    if seen >= sampled:
        return float(rows)
    lo, hi = float(seen), 1e15
    for _ in range(100):
        mid = math.sqrt(lo * hi)
        if mid * -math.expm1(-sampled / mid) < seen:
            lo = mid
        else:
            hi = mid
    return lo * -math.expm1(-rows / lo)


def per_distinct(lf: pl.LazyFrame, source: str, compute) -> pl.LazyFrame:
    """``compute`` (a LazyFrame -> LazyFrame adding columns) run once per distinct value of
    ``source`` and joined back: the added columns, one row per row of ``lf``, in its order."""
    values = lf.select(source)
    table = compute(values.unique())
    return values.join(table, on=source, how="left", nulls_equal=True, maintain_order="left").drop(source)
