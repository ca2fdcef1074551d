"""The run tables a migration lands beside the layout tables (rejects, alerts, lineage …): each
one's columns and types, declared once. The writers conform to it before anything is written,
landing takes the table names from it, and docs/outputs.md is held to it by a test.

The layout tables (resident, tax_assessment …) are declared by their layout files. ``runs``
(one row per run) is landing's own table (``landing._append_run``)."""

from __future__ import annotations

import polars as pl

_S, _I64, _F64, _B = pl.String, pl.Int64, pl.Float64, pl.Boolean
# where a record came from: every run table about source records starts so
_FROM = {"run_id": _S, "municipality_code": _S, "source_file": _S, "source_line": _I64}

RUN_TABLES: dict[str, dict[str, pl.DataType]] = {
    "rejects": {**_FROM, "source": _S, "byte_offset": _I64, "reason_code": _S, "item": _S, "message": _S, "reasons": _S,
                "raw_record": _S, "raw_bytes": pl.Binary},
    "alerts": {**_FROM, "byte_offset": _I64, "item": _S, "alert_code": _S, "message": _S, "value": _S},
    "lineage": {**_FROM, "byte_offset": _I64, "fate": _S, "target_table": _S, "target_key": _S, "survivor_file": _S,
                "survivor_line": _I64, "merge_reason": _S, "match_probability": _F64},
    # records out of the migration's scope (ikou/scope.py), with the rule that excluded them
    "excluded": {**_FROM, "byte_offset": _I64, "target_table": _S, "scope_rule": _S, "raw_record": _S,
                 "raw_bytes": pl.Binary},
    # a delta run (--delta-from): each row inserted, changed or deleted since the base run, by row key
    "delta": {**_FROM, "byte_offset": _I64, "target_table": _S, "change": _S, "target_key": _S, "key_values": _S,
              "changed_items": _S, "deleted_because": _S, "previous_run_id": _S, "previous_file": _S,
              "previous_line": _I64},
    "cleansing_changes": {**_FROM, "item": _S, "rules": _S, "original": _S, "cleansed": _S, "sensitive": _B},
    "code_coverage": {"run_id": _S, "municipality_code": _S, "code_table": _S, "item": _S, "legacy_code": _S,
                      "standard_code": _S, "status": _S, "records": _I64, "first_file": _S, "first_line": _I64},
    "gaiji_counts": {"run_id": _S, "municipality_code": _S, "code": _S, "item": _S, "records": _I64, "mapped": _B,
                     "replacement": _S, "mj": _S, "table_version": _S},
    # then each matching item of both records side by side (<item>_1, <item>_2, …), as the layout's
    # matching roles name them
    "review_queue": {"run_id": _S, "municipality_code": _S, "table_id": _S, "pair_key": _S, "decision": _S,
                     "match_probability": _F64, "match_weight": _F64, "evidence": _S},
}
OPEN_ENDED = {"review_queue"}  # declared columns first; more follow
RECORD_ID = "_rid"  # carried in the staged files only (landing leaves out records by it), never landed


def columns(table: str, with_record_id: bool = False) -> dict[str, pl.DataType]:
    return {**RUN_TABLES[table], **({RECORD_ID: _I64} if with_record_id else {})}


def conform(table: str, schema: pl.Schema | dict) -> None:
    """A writer's frame must have the table's declared columns, in order and of their types (a
    difference is a defect in ikou, found before anything is written)."""
    declared = list(RUN_TABLES[table].items())
    got = [(c, t) for c, t in dict(schema).items() if c != RECORD_ID]
    head = got[:len(declared)] if table in OPEN_ENDED else got
    if head != declared:
        raise RuntimeError(f"run table {table}: columns {got} differ from the declared {declared}")
