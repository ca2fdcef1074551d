"""JUnit XML for `ikou validate`: a CI system (GitHub Actions, GitLab, Jenkins) shows each rule
as a test case, and each broken rule as a failure with the places it was found.

Test cases, by classname:
- ``ikou.mapping``: the mapping and the export's file-level checks (an error, with every
  problem, when the run could not start: exit code 2);
- ``ikou.reconciliation``: per file, source records = landed + rejected + merged (+ excluded,
  when the mapping has scope rules);
- ``ikou.scope``: each scope rule, passing, with the records it excluded;
- ``ikou.file_findings``: an export that disagrees with itself (a trailer's count);
- ``ikou.thresholds``: each configured limit (max_reject_rate, max_alerts, rules.<code> …);
- ``ikou.rules.reject`` / ``ikou.rules.alert``: each reject reason / alert code on each item that
  caught records. It fails when its own limit (``thresholds.rules``) or the limit of its kind is
  exceeded, and passes otherwise, with its count and first places in ``system-out``.
"""

from __future__ import annotations

from lxml import etree

from ikou.errors import IkouError
from ikou.reasons import is_known, reason
from ikou.report import RunSummary

KIND_LIMITS = {"reject": ("max_reject_rate", "max_rejects"), "alert": ("max_alert_rate", "max_alerts")}


def _case(suite: etree._Element, classname: str, name: str, failure: str | None = None, detail: str = "",
          out: str = "", kind: str = "failure") -> None:
    case = etree.SubElement(suite, "testcase", classname=classname, name=name, time="0")
    if failure is not None:
        f = etree.SubElement(case, kind, message=failure, type=classname)
        f.text = detail or failure
    if out:
        etree.SubElement(case, "system-out").text = out


def junit_xml(name: str, summary: RunSummary | None = None, error: IkouError | None = None,
              seconds: float = 0.0) -> bytes:
    suites = etree.Element("testsuites", name="ikou validate")
    suite = etree.SubElement(suites, "testsuite", name=name, time=f"{seconds:.3f}")
    if error is not None:
        _case(suite, "ikou.mapping", "mapping and export pass the file-level checks", error.message,
              error.render(), kind="error")
    else:
        _case(suite, "ikou.mapping", "mapping and export pass the file-level checks")
    if summary is not None:
        props = etree.Element("properties")
        for key, value in (("run_id", summary.run_id), ("municipality_code", summary.municipality_code),
                           ("municipality_name", summary.municipality_name), ("layout", summary.layout),
                           ("mapping_sha256", summary.mapping_sha256), ("tool_version", summary.tool_version),
                           ("exit_code", str(int(summary.exit_code)))):
            etree.SubElement(props, "property", name=key, value=value)
        suite.insert(0, props)
        for f in summary.files:
            counts = (f"{f.source_records} source = {f.landed} landed + {f.rejected} rejected + {f.merged} merged"
                      + (f" + {f.excluded} excluded" if summary.scoped else ""))
            _case(suite, "ikou.reconciliation", f"{f.path}: every source record has one fate",
                  None if f.reconciled else f"{f.path}: {counts} does not hold", out=counts)
            for finding in f.findings:
                _case(suite, "ikou.file_findings", f"{f.path}: {finding}", finding)
        for finding in summary.findings[sum(len(f.findings) for f in summary.files):]:  # the run's own
            _case(suite, "ikou.file_findings", finding, finding)
        for r in summary.scope:  # not a failure: the migration's declared scope, shown with its count
            n = summary.excluded_by_rule.get(r["name"], 0)
            _case(suite, "ikou.scope", f"{r['name']}: {r['table']} records out of scope",
                  out=f"{n} record(s) excluded: {r['condition']}" + (f" ({r['description']})" if r.get("description") else ""))
        for p in summary.reconciliation_problems:
            _case(suite, "ikou.reconciliation", p, p)
        checks = {c.name: c for c in summary.threshold_checks}
        for c in checks.values():
            shown = (lambda x: f"{x:.4%}") if c.name.endswith("_rate") else str
            _case(suite, "ikou.thresholds", f"{c.name} <= {shown(c.limit)}",
                  None if c.passed else f"{c.name}: {shown(c.actual)} exceeds {shown(c.limit)}",
                  out=f"{c.name}: {shown(c.actual)} (limit {shown(c.limit)})")
        for r in summary.rules:
            label = f"{r.code} ({r.item})" if r.item else r.code
            places = ", ".join(r.examples)
            meaning = reason(r.code) if is_known(r.code) else None
            said = f"{meaning.en} / {meaning.ja}\n".replace("{}", "…") if meaning else ""
            out = f"{said}{r.records} record(s) {'rejected' if r.kind == 'reject' else 'alerted'}; first at {places}"
            own = checks.get(f"rules.{r.code}")
            broken = [c.name for c in (own, *(checks.get(k) for k in KIND_LIMITS[r.kind])) if c and not c.passed]
            _case(suite, f"ikou.rules.{r.kind}", label,
                  f"{label}: {r.records} record(s), over {', '.join(broken)}" if broken else None, out, out=out)
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
    suite.set("skipped", "0")
    for key in ("tests", "failures", "errors"):
        suites.set(key, suite.get(key))
    return etree.tostring(suites, xml_declaration=True, encoding="UTF-8", pretty_print=True)
