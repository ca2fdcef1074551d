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
- ``address`` (番地, 方書): trim, full-width digits -> ASCII, a hyphen look-alike (ー − ‐ －)
  between two digits -> ``-``. 丁目/番地/号 and 漢数字 stay as written: they are folded only in
  the derived match key (``ikou.cleansing.match_keys.address_key``).
- ``phone``: trim, full-width digits -> ASCII, hyphen look-alikes -> ``-``, and the bracket
  forms ``03(1234)5678`` / ``(03)1234-5678`` -> ``03-1234-5678``.
- ``decimal``: trim, full-width digits -> ASCII, ``．`` -> ``.``, a leading ``−``/``－`` -> ``-``.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from ikou.exprs import Layers, apply_layers


@dataclass(frozen=True)
class Step:
    """One cleansing rule. ``resizes``: whenever the rule changes a value it changes its length
    in bytes, so a cheap length comparison tells whether it changed anything."""
    name: str
    fn: Callable[[pl.Expr], pl.Expr]
    resizes: bool = True

    def changed(self, before: pl.Expr, after: pl.Expr) -> pl.Expr:
        if self.resizes:
            return (after.str.len_bytes() != before.str.len_bytes()).fill_null(False)
        return (after != before).fill_null(False)

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


def digit_hyphens(e: pl.Expr) -> pl.Expr:
    # two passes: a chain 1ー2ー3 has every other look-alike left after one (matches do not overlap)
    pattern = f"([0-9])[{HYPHENS[1:]}]([0-9])"
    return e.str.replace_all(pattern, "${1}-${2}").str.replace_all(pattern, "${1}-${2}")


def phone_form(e: pl.Expr) -> pl.Expr:
    e = e.str.replace_all(f"[{HYPHENS[1:]}]", "-")
    e = e.str.replace(r"^(0[0-9]{1,4})[(（]([0-9]{1,4})[)）]-?([0-9]{3,4})$", "${1}-${2}-${3}")
    return e.str.replace(r"^[(（](0[0-9]{1,4})[)）]-?([0-9]{1,4})-?([0-9]{3,4})$", "${1}-${2}-${3}")


def money_form(e: pl.Expr) -> pl.Expr:
    """Amounts as Japanese ledgers write them -> plain integers: thousands separators, 円 and ¥
    dropped, a leading △ / ▲ / − (the accountant's minus) made '-'. Anything else is left for
    the integer check to reject."""
    e = e.str.replace_all(r"[,，、円¥￥]", "")
    return e.str.replace(r"^[△▲−ー－]", "-")


def decimal_form(e: pl.Expr) -> pl.Expr:
    """A full-width point (．) -> '.', a leading full-width or typographic minus -> '-'; anything
    else is left for the decimal check (invalid_decimal)."""
    return e.str.replace_all("．", ".", literal=True).str.replace(r"^[−－]", "-")


def zero_pad(width: int) -> Callable[[pl.Expr], pl.Expr]:
    def pad(e: pl.Expr) -> pl.Expr:
        return pl.when(e.str.contains("^[0-9]+$")).then(e.str.zfill(width)).otherwise(e)
    return pad


TRIM = Step("trim", trim)
PROFILES: dict[str, list[Step]] = {
    "none": [],
    "name": [TRIM],
    "text": [TRIM],
    # half-width kana and their full-width forms are both 3 bytes in UTF-8: compare the text
    "kana": [TRIM, Step("widen_kana", widen_kana, resizes=False), Step("kana_space", kana_space)],
    "digits": [TRIM, Step("narrow_digits", narrow_digits)],
    "code": [TRIM, Step("narrow_alnum", narrow_alnum)],
    "postal_code": [TRIM, Step("narrow_digits", narrow_digits), Step("postal_form", postal_form)],
    # a full-width hyphen and an ASCII one differ in length: the cheap comparison holds
    "address": [TRIM, Step("narrow_digits", narrow_digits), Step("digit_hyphens", digit_hyphens)],
    "phone": [TRIM, Step("narrow_digits", narrow_digits), Step("phone_form", phone_form, resizes=False)],
    "money": [TRIM, Step("narrow_digits", narrow_digits), Step("money_form", money_form)],
    # ． and . are both one character but differ in bytes; − and - too
    "decimal": [TRIM, Step("narrow_digits", narrow_digits), Step("decimal_form", decimal_form)],
}


GAIJI_PROFILES = {"name", "kana", "text", "address"}


def steps_for(profile: str, pad: int | None = None, gaiji: dict[str, str] | None = None) -> list[Step]:
    """The profile's steps; a municipality's 外字 table (private-use character -> registered
    character) comes first for text-like fields, padding last."""
    steps = list(PROFILES[profile])
    if gaiji and profile in GAIJI_PROFILES:
        # same UTF-8 length is possible (a PUA character and a kanji are both 3 bytes): compare text
        steps.insert(1, Step("gaiji", lambda e, table=dict(gaiji): e.str.replace_many(table), resizes=False))
    if pad is not None:
        steps.append(Step(f"zero_pad_{pad}", zero_pad(pad)))
    return steps


PUA_NAMES = {chr(cp): f"U+{cp:04X}" for cp in range(0xE000, 0xF900)}
# as Series, built once: a dict of 6,400 entries is converted anew on every use (~3.5 ms each)
_PUA_CHARS, _PUA_CODES = pl.Series(list(PUA_NAMES), dtype=pl.String), pl.Series(list(PUA_NAMES.values()))


def pua_name(e: pl.Expr) -> pl.Expr:
    """A private-use character (外字) as its code point name, ``U+E000``; null for anything else."""
    return e.replace_strict(_PUA_CHARS, _PUA_CODES, default=None)


def cleanse_text(lf: pl.LazyFrame, specs: list[tuple[str, str, list[Step]]]) -> pl.LazyFrame:
    """Apply each column's steps. ``specs``: (source column, output column, steps).

    Adds ``<out>`` (cleansed; empty after trimming becomes null), ``<out>__changed`` and one
    flag per step, ``<out>__step_<name>`` (that step changed the value), from which
    ``rules_expr`` names the rules of a changed value. One ``with_columns`` per step, so each
    step reads a materialised column (polars does not share nested sub-expressions).
    """
    return apply_layers(lf, cleanse_text_layers(specs))


def cleanse_text_layers(specs: list[tuple[str, str, list[Step]]]) -> Layers:
    """The expressions of ``cleanse_text``, built once and applied to any number of frames."""
    depth = max((len(steps) for _, _, steps in specs), default=0)
    layers = [[pl.col(src).alias(f"__v_{out}") for src, out, _ in specs]]
    for k in range(depth):
        cols = []
        for _, out, steps in specs:
            if k < len(steps):
                v = pl.col(f"__v_{out}")
                new = steps[k].fn(v)
                cols += [new.alias(f"__v_{out}"), steps[k].changed(v, new).alias(f"{out}__step_{steps[k].name}")]
        layers.append(cols)
    final = []
    for _, out, steps in specs:
        v = pl.col(f"__v_{out}")
        flags = [pl.col(f"{out}__step_{st.name}") for st in steps]
        final += [pl.when(v != "").then(v).alias(out),
                  (pl.any_horizontal(flags) if flags else pl.lit(False)).alias(f"{out}__changed")]
    layers.append(final)
    return layers, [f"__v_{out}" for _, out, _ in specs]


def rules_expr(out: str, steps: list[Step]) -> pl.Expr:
    """The names of the steps that changed column ``out``, joined by '+' (null when none did)."""
    if not steps:
        return pl.lit(None, pl.String)
    rules = pl.concat_str([pl.when(pl.col(f"{out}__step_{st.name}")).then(pl.lit(st.name)) for st in steps],
                          separator="+", ignore_nulls=True)
    return pl.when(rules != "").then(rules)


# Private Use Area: where CP932 user-defined characters (外字, F040-F9FC) land when decoded.
PUA_PATTERN = "[\ue000-\uf8ff]"
