"""Per-field text profiles (DOMAIN.md §5): vectorised polars steps, never a global NFKC.

A profile is an ordered list of named steps. The pipeline applies them one by one and records,
per value, which steps changed it, so the original value is always kept (``cleansing_changes``).

Profiles:
- ``none``: untouched.
- ``name`` (氏名): trim spaces at the edges only. The registered characters are never changed.
- ``text``: trim spaces (ASCII and full-width) at the edges.
- ``kana`` (フリガナ): trim, half-width katakana -> full-width, ASCII space -> full-width space.
- ``digits``: trim, full-width digits -> ASCII.
- ``code``: trim, full-width ASCII letters and digits -> ASCII.
- ``postal_code``: trim, full-width digits -> ASCII, then ``〒123-4567`` -> ``1234567``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

import polars as pl

Step = tuple[str, Callable[[pl.Expr], pl.Expr]]

EDGE_SPACES = " \u3000\t"


def _half_width_kana_table() -> dict[str, str]:
    # NFKC is used here only to build the table from single code points, never on data.
    singles = [chr(c) for c in range(0xFF61, 0xFFA0)]
    table: dict[str, str] = {}
    for ch in singles:
        for mark in ("\uff9e", "\uff9f"):  # ﾞ ﾟ
            composed = unicodedata.normalize("NFKC", ch + mark)
            if len(composed) == 1:
                table[ch + mark] = composed
    for ch in singles:
        table[ch] = unicodedata.normalize("NFKC", ch)
    return table


HALF_WIDTH_KANA = _half_width_kana_table()
FULL_WIDTH_DIGITS = {chr(0xFF10 + i): str(i) for i in range(10)}
FULL_WIDTH_ALNUM = {
    **FULL_WIDTH_DIGITS,
    **{chr(0xFF21 + i): chr(0x41 + i) for i in range(26)},
    **{chr(0xFF41 + i): chr(0x61 + i) for i in range(26)},
}
# Hyphen look-alikes seen between digits in postal codes and 番地 (DOMAIN.md §5).
HYPHENS = "-\uff0d\u2212\u2010\u2011\u2012\u2013\u2014\u2015\u30fc\uff70"


def trim(e: pl.Expr) -> pl.Expr:
    return e.str.strip_chars(EDGE_SPACES)


def widen_kana(e: pl.Expr) -> pl.Expr:
    return e.str.replace_many(HALF_WIDTH_KANA, leftmost=True)


def kana_space(e: pl.Expr) -> pl.Expr:
    return e.str.replace_all(" ", "\u3000", literal=True)


def narrow_digits(e: pl.Expr) -> pl.Expr:
    return e.str.replace_many(FULL_WIDTH_DIGITS)


def narrow_alnum(e: pl.Expr) -> pl.Expr:
    return e.str.replace_many(FULL_WIDTH_ALNUM)


def postal_form(e: pl.Expr) -> pl.Expr:
    return e.str.replace(f"^〒?[ \u3000]*([0-9]{{3}})[{HYPHENS}]([0-9]{{4}})$", "${1}${2}")


def zero_pad(width: int) -> Callable[[pl.Expr], pl.Expr]:
    def pad(e: pl.Expr) -> pl.Expr:
        return pl.when(e.str.contains("^[0-9]+$")).then(e.str.zfill(width)).otherwise(e)
    return pad


PROFILES: dict[str, list[Step]] = {
    "none": [],
    "name": [("trim", trim)],
    "text": [("trim", trim)],
    "kana": [("trim", trim), ("widen_kana", widen_kana), ("kana_space", kana_space)],
    "digits": [("trim", trim), ("narrow_digits", narrow_digits)],
    "code": [("trim", trim), ("narrow_alnum", narrow_alnum)],
    "postal_code": [("trim", trim), ("narrow_digits", narrow_digits), ("postal_form", postal_form)],
}


def steps_for(profile: str, pad: int | None = None) -> list[Step]:
    steps = list(PROFILES[profile])
    if pad is not None:
        steps.append((f"zero_pad_{pad}", zero_pad(pad)))
    return steps


def cleanse_text(lf: pl.LazyFrame, specs: list[tuple[str, str, list[Step]]]) -> pl.LazyFrame:
    """Apply each column's steps. ``specs``: (source column, output column, steps).

    Adds ``<out>`` (cleansed; empty after trimming becomes null) and ``<out>__rules`` (the steps
    that changed the value, joined by '+', or null). One ``with_columns`` per step, so each step
    reads a materialised column (polars does not share nested sub-expressions).
    """
    depth = max((len(steps) for _, _, steps in specs), default=0)
    lf = lf.with_columns([pl.col(src).alias(f"__v_{out}") for src, out, _ in specs])
    flags: dict[str, list[str]] = {out: [] for _, out, _ in specs}
    for k in range(depth):
        cols = []
        for _, out, steps in specs:
            if k >= len(steps):
                continue
            name, fn = steps[k]
            v = pl.col(f"__v_{out}")
            new = fn(v)
            flag = f"__c{k}_{out}"
            flags[out].append(flag)
            cols += [new.alias(f"__v_{out}"), pl.when(new != v).then(pl.lit(name)).alias(flag)]
        lf = lf.with_columns(cols)
    final = []
    for _, out, _ in specs:
        v = pl.col(f"__v_{out}")
        rules = (pl.concat_str([pl.col(f) for f in flags[out]], separator="+", ignore_nulls=True)
                 if flags[out] else pl.lit(""))
        final += [pl.when(v != "").then(v).alias(out), pl.when(rules != "").then(rules).alias(f"{out}__rules")]
    drop = [f"__v_{out}" for _, out, _ in specs] + [f for fl in flags.values() for f in fl]
    return lf.with_columns(final).drop(drop)


# Private Use Area: where CP932 user-defined characters (外字, F040-F9FC) land when decoded.
PUA_PATTERN = "[\ue000-\uf8ff]"
