"""Reviewers' decisions on probable duplicates (名寄せの判定): the review CSV's headers, reading
the decisions file, and ``ikou review collect`` moving decided rows into it. A pair is named by
its two persons' ids (pair_key), so a decision holds across runs and new exports."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ikou.errors import IkouError
from ikou.i18n import tr

DECISIONS = {"same": "same", "同一": "same", "同一人": "same", "different": "different", "別人": "different"}


def load_decisions(path: Path | None) -> pl.DataFrame:
    """The reviewers' decisions: a CSV with at least ``pair_key`` and ``decision`` (same /
    different, or 同一 / 別人; blank = not decided yet). UTF-8 (with or without BOM) or CP932, as
    Excel saves it. Every bad row is reported at once."""
    schema = {"pair_key": pl.String, "decision": pl.String}
    if path is None or not path.exists():
        return pl.DataFrame(schema=schema)
    text = _read_csv_text(path)
    try:
        frame = (pl.read_csv(text.encode("utf-8"), infer_schema=False) if text.strip()
                 else pl.DataFrame(schema=schema))
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise IkouError(tr("decisions file {path} is not a CSV file ikou can read: {value}",
                           path=path, value=str(exc).splitlines()[0]),
                        hint=tr("keep the review queue's CSV as written (pair_key, decision, …)")) from exc
    frame = frame.rename(column_ids(frame.columns))
    missing = [c for c in ("pair_key", "decision") if c not in frame.columns]
    if missing:
        raise IkouError(tr("decisions file {path} lacks the column(s) {values}", path=path, values=', '.join(missing)),
                        hint=tr("keep the header of the review queue CSV (pair_key, decision, …)"))
    frame = frame.select(pl.col("pair_key").str.strip_chars(), pl.col("decision").str.strip_chars())
    problems = [f"{path}:{i + 2}: decision {d!r} for {k} is not same / different (同一 / 別人) or blank"
                for i, (k, d) in enumerate(frame.iter_rows()) if d and d.lower() not in DECISIONS]
    if problems:
        raise IkouError(tr("decisions file {path} has {count} unreadable decision(s); nothing was written",
                           path=path, count=len(problems)),
                        problems=problems, hint=tr("write same or different in the decision column"))
    decided = frame.filter(pl.col("decision").is_not_null() & (pl.col("decision") != ""))
    ids = pl.col("pair_key").str.split("~")
    decided = decided.with_columns(pl.col("decision").str.to_lowercase().replace_strict(DECISIONS),
                                   pair_key=pair_key(ids.list.get(0, null_on_oob=True).str.strip_chars(),
                                                     ids.list.get(1, null_on_oob=True).str.strip_chars()))
    # the last decision on a pair wins (a later review round corrects an earlier one)
    return decided.unique("pair_key", keep="last", maintain_order=True)


def _read_csv_text(path: Path) -> str:
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise IkouError(tr("{path} is neither UTF-8 nor CP932", path=path), hint=tr("save it as UTF-8 CSV"))


def collect_decisions(queue: Path, decisions: Path) -> tuple[int, int]:
    """Move the decided rows of a review queue CSV into the decisions file (created if absent;
    a pair decided again replaces its earlier decision). Returns (decided rows read, rows in the
    decisions file now)."""
    new = load_decisions(queue)
    if not new.height:
        return 0, load_decisions(decisions).height
    text = _read_csv_text(queue)
    detail = pl.read_csv(text.encode("utf-8"), infer_schema=False)
    detail = detail.rename(column_ids(detail.columns))
    keep = [c for c in detail.columns if c != "decision"]
    ids = pl.col("pair_key").str.split("~")
    detail = detail.with_columns(pair_key=pair_key(ids.list.get(0, null_on_oob=True), ids.list.get(1, null_on_oob=True)))
    added = new.join(detail.select(keep), on="pair_key", how="left").with_columns(
        decided_from=pl.lit(str(queue)))
    old = pl.read_csv(_read_csv_text(decisions).encode("utf-8"), infer_schema=False) \
        if decisions.exists() and decisions.stat().st_size else pl.DataFrame(schema={"pair_key": pl.String})
    merged = (pl.concat([old, added], how="diagonal_relaxed")
              .unique("pair_key", keep="last", maintain_order=True))
    front = ["pair_key", "decision"]
    merged = merged.select(front + [c for c in merged.columns if c not in front])
    decisions.parent.mkdir(parents=True, exist_ok=True)
    tmp = decisions.with_suffix(decisions.suffix + ".tmp")
    tmp.write_bytes(b"\xef\xbb\xbf" + merged.write_csv(line_terminator="\r\n").encode("utf-8"))
    tmp.replace(decisions)
    return new.height, merged.height


# the review CSV's headers for people (Japanese first, the column's id in brackets, which is what
# ikou reads back): the queue's own columns here, the layout's items by their name_ja
REVIEW_HEADERS = {"pair_key": "組キー", "decision": "判定（同一/別人）", "match_probability": "一致確率",
                  "match_weight": "一致の重み", "evidence": "根拠", "source_file": "ファイル", "source_line": "行"}


def review_headers(columns: list[str], names_ja: dict[str, str]) -> dict[str, str]:
    """column id -> the review CSV's header, e.g. name_1 -> "氏名_1 (name_1)"."""
    out = {}
    for c in columns:
        base, _, side = c.rpartition("_") if c[-2:] in ("_1", "_2") else (c, "", "")
        ja = REVIEW_HEADERS.get(base) or names_ja.get(base)
        out[c] = f"{ja}{'_' + side if side else ''} ({c})" if ja else c
    return out


def column_ids(headers: list[str]) -> dict[str, str]:
    """The review CSV's headers back to column ids ("判定（同一/別人） (decision)" -> decision);
    headers written as plain ids (older files, hand-made ones) stay as they are."""
    import re
    return {h: m.group(1) for h in headers if (m := re.search(r"\(([A-Za-z0-9_]+)\)\s*$", h))}


def pair_key(left: pl.Expr, right: pl.Expr) -> pl.Expr:
    """A pair's name across runs: the two persons' ids (宛名番号), smaller first."""
    lo, hi = pl.min_horizontal(left, right), pl.max_horizontal(left, right)
    return pl.concat_str([lo, hi], separator="~")
