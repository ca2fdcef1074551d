"""great-expectations export (optional extra: ``pip install 'ikou[gx]'``), for vendors whose QA
already runs on great-expectations. Only the ``ikou gx`` commands import this module, and it
imports great_expectations only inside its functions: the core path never loads it.

- ``layout_suite``: a layout table as a GX expectation suite, built from the layout file:
  required items → not null, string lengths → value lengths, patterns → regex, code tables →
  value sets, duplicate keys → (compound) uniqueness, and the landed columns as a column set.
  An item's level maps to the expectation's severity (error → critical, alert → warning).
- ``run_results``: an ikou run (from OUT/ikou.duckdb) as GX validation results of that suite:
  each expectation's unexpected count is the number of records ikou found breaking that rule
  (rejected or alerted), out of the run's source records. ikou rules GX has no expectation for
  (check digits, household rules, dates, encoding) are listed in the result's meta with counts.
- ``build_docs``: a GX file project under a folder, with the suites and results stored and Data
  Docs built (``<folder>/gx/uncommitted/data_docs/local_site/index.html``).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from ikou.errors import IkouError
from ikou.i18n import tr
from ikou.layout import Layout, Table
from ikou.report import RunSummary

# ikou's reason / alert codes → the GX expectation type that states the same rule
CODE_TO_GX = {
    "required_missing": "expect_column_values_to_not_be_null",
    "too_long": "expect_column_value_lengths_to_be_between",
    "invalid_format": "expect_column_values_to_match_regex",
    "invalid_code": "expect_column_values_to_be_in_set",
    "unmapped_code": "expect_column_values_to_be_in_set",
    "duplicate_conflict": "expect_compound_columns_to_be_unique",
}
SEVERITY = {"error": "critical", "alert": "warning"}


def _gx():
    try:
        import great_expectations as gx
    except ImportError as exc:
        raise IkouError(tr("great-expectations is not installed"), hint=tr("pip install 'ikou[gx]' (an optional extra)")) from exc
    # GX sets some of its loggers to INFO and logs its temporary folders there
    for name in [n for n in logging.root.manager.loggerDict if n.startswith("great_expectations")]:
        logging.getLogger(name).setLevel(logging.WARNING)
    return gx


def suite_name(layout: Layout, table: Table) -> str:
    return f"ikou.{layout.id}.{table.id}"


def layout_expectations(layout: Layout, table: Table) -> list:
    """The GX expectations of one layout table (GX objects, not yet in a suite)."""
    gxe = _gx().expectations
    landed = list(dict.fromkeys(["municipality_code", *table.schema()]))
    out = [gxe.ExpectTableColumnsToMatchSet(column_set=landed, exact_match=False,
                                            meta={"ikou": "landed columns"})]
    for item in table.items:
        meta = {"item": item.id, "name_ja": item.name_ja, "ikou_level": item.level}
        severity = SEVERITY.get(item.level, "critical")
        if item.required and not item.is_date:
            out.append(gxe.ExpectColumnValuesToNotBeNull(column=item.id, meta=meta | {"ikou_code": "required_missing"},
                                                         severity="critical"))
        if item.length is not None and item.type == "string":
            out.append(gxe.ExpectColumnValueLengthsToBeBetween(column=item.id, max_value=item.length,
                                                               meta=meta | {"ikou_code": "too_long"},
                                                               severity=severity))
        for chk in item.checks:
            if chk.kind == "pattern":
                out.append(gxe.ExpectColumnValuesToMatchRegex(
                    column=item.id, regex=chk.arg, meta=meta | {"ikou_code": "invalid_format"},
                    severity=SEVERITY.get(chk.level, "critical")))
        if item.width is not None and item.type == "string" and (item.length or item.width + 1) > item.width:
            out.append(gxe.ExpectColumnValueLengthsToBeBetween(column=item.id, max_value=item.width,
                                                               meta=meta | {"ikou_code": "exceeds_width"},
                                                               severity=SEVERITY["alert"]))
        codes = layout.code_tables[item.code_table] if item.code_table is not None else None
        if codes is not None and codes.enforced:
            # a forbidden code (a legacy one the standard does not allow) is outside the set
            out.append(gxe.ExpectColumnValuesToBeInSet(
                column=item.id, value_set=sorted(codes.allowed),
                meta=meta | {"ikou_code": "invalid_code", "code_table": codes.id, "code_table_ja": codes.name_ja},
                severity=severity))
    for keys in table.duplicate_keys:
        meta = {"ikou_code": "duplicate_conflict", "items": list(keys)}
        if len(keys) == 1:
            out.append(_gx().expectations.ExpectColumnValuesToBeUnique(column=keys[0], meta=meta))
        else:
            out.append(_gx().expectations.ExpectCompoundColumnsToBeUnique(column_list=list(keys), meta=meta))
    return out


def layout_suite_json(layout: Layout, table: Table) -> dict:
    """The suite as GX writes it (``ExpectationSuite.to_json_dict``), with stable ids."""
    gx = _gx()
    context = gx.get_context(mode="ephemeral")
    suite = context.suites.add(gx.ExpectationSuite(name=suite_name(layout, table),
                                                   expectations=layout_expectations(layout, table),
                                                   meta={"ikou_layout": layout.id, "ikou_layout_version": layout.version,
                                                         "table_ja": table.name_ja}))
    return _stable(suite.to_json_dict())


def _stable(d: dict) -> dict:
    """GX gives every suite and expectation a random id; a file in a repository needs the same
    bytes for the same layout."""
    d["id"] = None
    for e in d.get("expectations", []):
        e["id"] = None
    return d


def run_results(out: Path, municipality: str | None = None) -> list[tuple[dict, Layout, Any]]:
    """(run, its layout, GX validation result) for the latest run of each municipality in OUT."""
    from ikou.reconciliation.model import latest_runs, reading, run_layout

    gx = _gx()
    from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult
    from great_expectations.core.run_identifier import RunIdentifier

    context = gx.get_context(mode="ephemeral")
    suites: dict = {}
    results = []
    with reading(out) as con:
        for run in latest_runs(con):
            if municipality is not None and run["municipality_code"] != municipality:
                continue
            summary = RunSummary.from_json(run["summary"])
            layout = run_layout(out, run, summary)
            if layout is None:
                raise IkouError(tr("the layout of run {run_id} ({layout}) cannot be loaded",
                                   run_id=run['run_id'], layout=run['layout']))
            total = summary.totals["source_records"]
            findings: dict[tuple[str, str | None], int] = {}
            for table, col in (("rejects", "reason_code"), ("alerts", "alert_code")):
                for code, item, n in con.execute(f"select {col}, item, count(*) from {table} where run_id = ? "
                                                 f"group by all", [run["run_id"]]).fetchall():
                    findings[(code, item)] = findings.get((code, item), 0) + n
            used: set[tuple[str, str | None]] = set()
            for table in layout.tables.values():
                name = suite_name(layout, table)
                if name not in suites:
                    suites[name] = context.suites.add(gx.ExpectationSuite(
                        name=name, expectations=layout_expectations(layout, table)))
                suite = suites[name]
                evaluated = []
                for exp in suite.expectations:
                    cfg = exp.configuration
                    code = (exp.meta or {}).get("ikou_code")
                    if code is None:
                        continue  # the column set: ikou lands exactly the layout's columns
                    if code == "duplicate_conflict":
                        keys = [(code, None)]
                    elif code == "invalid_code":
                        keys = [(code, exp.meta["item"]), ("unmapped_code", exp.meta["item"])]
                    else:
                        keys = [(code, exp.meta["item"])]
                    bad = sum(findings.get(k, 0) for k in keys)
                    used |= set(keys)
                    evaluated.append(ExpectationValidationResult(
                        success=bad == 0, expectation_config=cfg,
                        result={"element_count": total, "unexpected_count": bad,
                                "unexpected_percent": round(100 * bad / total, 6) if total else 0.0,
                                "missing_count": 0, "partial_unexpected_list": []}))
                ok = sum(r.success for r in evaluated)
                run_id = RunIdentifier(run_name=run["run_id"], run_time=dt.datetime.fromisoformat(
                    run["finished_at"]).replace(tzinfo=dt.timezone.utc))
                others = {f"{c}:{i}" if i else c: n for (c, i), n in sorted(findings.items(), key=str) if (c, i) not in used}
                result = ExpectationSuiteValidationResult(
                    success=ok == len(evaluated), results=evaluated, suite_name=suite.name,
                    statistics={"evaluated_expectations": len(evaluated), "successful_expectations": ok,
                                "unsuccessful_expectations": len(evaluated) - ok,
                                "success_percent": 100.0 * ok / len(evaluated) if evaluated else 100.0},
                    meta={"run_id": run_id, "ikou_run_id": run["run_id"], "municipality_code": run["municipality_code"],
                          "source_records": total, "ikou_findings_without_gx_expectation": others,
                          "active_batch_definition": {"datasource_name": "ikou", "data_connector_name": "ikou_run",
                                                      "data_asset_name": f"{table.id}_{run['municipality_code']}",
                                                      "batch_identifiers": {"run_id": run["run_id"]}}})
                results.append((run, layout, result))
    return results


def build_docs(out: Path, dest: Path, municipality: str | None = None) -> Path:
    """A GX file project in ``dest`` holding the layouts' suites and the runs' validation results,
    with Data Docs built. Returns the Data Docs index page."""
    gx = _gx()
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    results = run_results(out, municipality)
    if not results:
        raise IkouError(tr("{out} holds no run of municipality {code} to export", out=out, code=municipality)
                        if municipality else tr("{out} holds no run to export", out=out))
    dest.mkdir(parents=True, exist_ok=True)
    context = gx.get_context(mode="file", project_root_dir=str(dest))
    for run, layout, result in results:
        for table in layout.tables.values():
            name = suite_name(layout, table)
            if name not in {s.name for s in context.suites.all()}:
                context.suites.add(gx.ExpectationSuite(name=name, expectations=layout_expectations(layout, table)))
        key = ValidationResultIdentifier(expectation_suite_identifier=ExpectationSuiteIdentifier(name=result.suite_name),
                                         run_id=result.meta["run_id"], batch_identifier=run["municipality_code"])
        context.validation_results_store.set(key, result)
    context.build_data_docs()
    return dest / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"
