"""Detail tables a vendor can filter: rejects with reasons and raw records, unmapped codes with
counts, alerts, code coverage, 外字, normalisations, hash totals, money sums, source columns. Written as CSV files
(UTF-8 with BOM, as Excel opens them) or as one xlsx workbook (workbook.py: a summary sheet first,
then a sheet per table, Japanese names and headers from catalog/report_tables.yaml).

Raw records and messages pass through ``masking.NUMBER_LIKE``: any run of 12 or more digits,
ASCII or full-width, with or without separators (a 個人番号 is 12; in a fixed-width record it may
run into its neighbours) shows as asterisks and its last four digits, so that no 個人番号 leaves
in a report, whatever the export's format or spelling.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from ikou.masking import mask_number_like_sql
from ikou.reasons import is_known, reason
from ikou.reconciliation.model import ReconciliationReport, reading


def masked(column: str) -> str:
    """SQL masking every 個人番号-like run of ``column`` but its last four digits."""
    return mask_number_like_sql(column)


def _runs_filter(report: ReconciliationReport) -> str:
    ids = ", ".join(f"'{m.run_id}'" for m in report.municipalities)
    return f"run_id in ({ids})"


def detail_tables(out: Path | list[Path], report: ReconciliationReport) -> dict[str, pl.DataFrame]:
    """Every detail table of the report's runs, from OUT/ikou.duckdb (from each OUT's, one after
    the other, when the report is over several)."""
    outs = [out] if isinstance(out, Path) else out
    parts: dict[str, list[pl.DataFrame]] = {}
    for one in outs:
        with reading(one) as con:
            for name, frame in _tables(con, report).items():
                parts.setdefault(name, []).append(frame)
    # the tables read from a database (its runs' rows) add up; the others are built from the
    # report itself, the same for every OUT
    return {name: pl.concat([f for f in frames if f.height] or frames[:1], how="diagonal_relaxed")
            if name in FROM_DATABASE else frames[0] for name, frames in parts.items()}


FROM_DATABASE = ("rejects", "unmapped_codes", "code_coverage", "alerts", "gaiji")


def _tables(con: duckdb.DuckDBPyConnection, report: ReconciliationReport) -> dict[str, pl.DataFrame]:
    have = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
    runs = _runs_filter(report)
    names = {(m.municipality_code, i.item): i.item_ja for m in report.municipalities
             for i in (*m.rejects, *m.alerts) if i.item}
    names |= {(m.municipality_code, c.item): c.item_ja for m in report.municipalities for c in m.coverage}
    item_ja = pl.DataFrame([{"municipality_code": k[0], "item": k[1], "item_ja": v} for k, v in names.items()],
                           schema={"municipality_code": pl.String, "item": pl.String, "item_ja": pl.String})
    out: dict[str, pl.DataFrame] = {}
    if report.apportionment:  # 費用按分: yen as integers, so that Excel sums them
        a = report.apportionment
        out["apportionment"] = pl.DataFrame(
            [{"municipality_code": m["code"], "municipality_name": m["name"], "method": a["method"],
              "cost": a["cost"], "share": m["share"], "yen": m["yen"], "basis": m["basis"]} for m in a["members"]],
            schema={"municipality_code": pl.String, "municipality_name": pl.String, "method": pl.String,
                    "cost": pl.Int64, "share": pl.String, "yen": pl.Int64, "basis": pl.String})
    out["files"] = pl.DataFrame(
        [{"municipality_code": m.municipality_code, "municipality_name": m.municipality_name, "layout": m.layout,
          "run_id": m.run_id, "file": f.path, "source": f.source, "sha256": f.sha256, "source_records": f.source_records,
          "landed": f.landed, "rejected": f.rejected, "merged": f.merged, "excluded": f.excluded,
          "reconciled": f.reconciled}
         for m in report.municipalities for f in m.files])
    out["scope"] = pl.DataFrame(
        [{"municipality_code": m.municipality_code, "layout": m.layout, "rule": r["name"], "table": r["table"],
          "condition": r["condition"], "description": r.get("description", ""),
          "records": m.excluded_by_rule.get(r["name"], 0)} for m in report.municipalities for r in m.scope],
        schema={"municipality_code": pl.String, "layout": pl.String, "rule": pl.String, "table": pl.String,
                "condition": pl.String, "description": pl.String, "records": pl.Int64})
    out["delta"] = pl.DataFrame(
        [{"municipality_code": m.municipality_code, "layout": m.layout, "previous_run_id": m.delta.previous_run_id,
          "table": t.table, "previous": t.previous, "inserted": t.inserted, "deleted": t.deleted, "current": t.current,
          "changed": t.changed, "unchanged": t.unchanged,
          "items_changed": ", ".join(f"{i} {n}" for i, n in sorted(t.changed_items.items()))}
         for m in report.municipalities if m.delta for t in m.delta.tables],
        schema={"municipality_code": pl.String, "layout": pl.String, "previous_run_id": pl.String, "table": pl.String,
                **{k: pl.Int64 for k in ("previous", "inserted", "deleted", "current", "changed", "unchanged")},
                "items_changed": pl.String})
    if "rejects" in have:
        out["rejects"] = con.sql(
            f"select municipality_code, source_file, source_line, byte_offset, reason_code, item, reasons, "
            f"{masked('message')} as message, {masked('raw_record')} as raw_record from rejects where {runs} "
            f"order by municipality_code, source_file, source_line, byte_offset").pl()
    if "code_coverage" in have:
        cov = con.sql(f"select municipality_code, code_table, item, legacy_code, standard_code, status, records, "
                          f"first_file, first_line from code_coverage where {runs} "
                          f"order by municipality_code, code_table, status, records desc, legacy_code").pl()
        out["unmapped_codes"] = cov.filter(pl.col("status") == "unmapped").drop("standard_code", "status")
        out["code_coverage"] = cov
    if "alerts" in have:
        out["alerts"] = con.sql(
            f"select municipality_code, source_file, source_line, byte_offset, alert_code, item, "
            f"{masked('message')} as message, {masked('value')} as value from alerts where {runs} "
            f"order by municipality_code, source_file, source_line, alert_code").pl()
    if "gaiji_counts" in have:
        out["gaiji"] = con.sql(f"select municipality_code, code, item, records, mapped, replacement, mj "
                                   f"from gaiji_counts where {runs} order by municipality_code, code, item").pl()
    out["normalisations"] = pl.DataFrame(
        [{"municipality_code": m.municipality_code, "item": n.item, "item_ja": n.item_ja, "rule": n.rule,
          "records": n.records} for m in report.municipalities for n in m.normalisations],
        schema={"municipality_code": pl.String, "item": pl.String, "item_ja": pl.String, "rule": pl.String,
                "records": pl.Int64})
    out["hash_totals"] = pl.DataFrame(
        [{"municipality_code": m.municipality_code, "table": h.table, "item": h.item, "item_ja": h.item_ja,
          "records": h.non_null, "distinct": h.distinct, "digit_sum": h.digit_sum, "non_digit": h.non_digit}
         for m in report.municipalities for h in m.hash_totals])
    out["money_sums"] = pl.DataFrame(
        [{"municipality_code": m.municipality_code, "table": s.table, "item": s.item, "item_ja": s.item_ja,
          "records": s.records, "sum_yen": s.total} for m in report.municipalities for s in m.money_sums],
        schema={"municipality_code": pl.String, "table": pl.String, "item": pl.String, "item_ja": pl.String,
                "records": pl.Int64, "sum_yen": pl.Int64})
    out["money_totals"] = pl.DataFrame(  # 金額照合: yen as integers, so that Excel sums them
        [{"municipality_code": m.municipality_code, "layout": m.layout, "table": t.table, "item": t.item,
          "item_ja": (m.item_names or {}).get(t.item),
          "group": ", ".join(f"{(m.item_names or {}).get(k, k)}={v}" for k, v in t.by.items()),
          "source": t.source, "landed": t.landed, "rejected": t.rejected, "merged": t.merged, "excluded": t.excluded,
          "unparsed_records": t.unparsed_records, "reconciled": t.reconciled}
         for m in report.municipalities for t in m.money_totals],
        schema={"municipality_code": pl.String, "layout": pl.String, "table": pl.String, "item": pl.String,
                "item_ja": pl.String, "group": pl.String,
                **{k: pl.Int64 for k in ("source", "landed", "rejected", "merged", "excluded", "unparsed_records")},
                "reconciled": pl.Boolean})
    out["columns"] = pl.DataFrame(
        [{"municipality_code": m.municipality_code, "layout": m.layout, "file": c["file"], "column": c["column"],
          "fate": c["fate"], "items": ", ".join(c["items"]), "values": c["source"], "landed": c.get("landed"),
          "rejected": c.get("rejected"), "merged": c.get("merged"), "excluded": c.get("excluded"),
          "cleared": ", ".join(f"{r} {n}" for r, n in (c.get("cleared") or {}).items()) or None,
          "lost": c.get("lost"), "reason": c.get("reason"), "reconciled": c.get("reconciled")}
         for m in report.municipalities for c in m.columns],
        schema={"municipality_code": pl.String, "layout": pl.String, "file": pl.String, "column": pl.String,
                "fate": pl.String, "items": pl.String, "values": pl.Int64, "landed": pl.Int64, "rejected": pl.Int64,
                "merged": pl.Int64, "excluded": pl.Int64, "cleared": pl.String, "lost": pl.Int64, "reason": pl.String,
                "reconciled": pl.Boolean})
    if "rejects" in out:  # the reason in Japanese beside its code
        codes = out["rejects"]["reason_code"].unique().to_list()
        meaning = pl.DataFrame({"reason_code": codes, "reason_ja": [_reason_ja(c) for c in codes]},
                               schema={"reason_code": pl.String, "reason_ja": pl.String})
        frame = out["rejects"].join(meaning, on="reason_code", how="left", maintain_order="left")
        cols = frame.columns
        cols.insert(cols.index("reason_code") + 1, cols.pop(cols.index("reason_ja")))
        out["rejects"] = frame.select(cols)
    # the Japanese item name beside every item id
    for key in ("rejects", "unmapped_codes", "code_coverage", "alerts", "gaiji"):
        if key in out and "item" in out[key].columns:
            frame = out[key].join(item_ja, on=["municipality_code", "item"], how="left", maintain_order="left")
            cols = frame.columns
            cols.insert(cols.index("item") + 1, cols.pop(cols.index("item_ja")))
            out[key] = frame.select(cols)
    return out


def _reason_ja(code: str | None) -> str | None:
    return reason(code).ja.replace("{}", "…") if code and is_known(code) else None


def write_csv(tables: dict[str, pl.DataFrame], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in tables.items():
        path = folder / f"{name}.csv"
        path.write_bytes(b"\xef\xbb\xbf" + frame.write_csv().encode("utf-8"))
        written.append(path)
    return written
