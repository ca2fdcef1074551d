"""The HTML report in headless Chromium (Debian's package, installed by `make test`): it renders
without script errors, and every number it shows equals the JSON rendering's.

Skips when no Chromium is installed, unless IKOU_REQUIRE_BROWSER=1 (set by .ci/run), which
turns the skip into a failure."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import lxml.html
import polars as pl
import pytest

from tests.conftest import run_cli

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
if CHROMIUM is None:
    if os.environ.get("IKOU_REQUIRE_BROWSER") == "1":
        raise RuntimeError("IKOU_REQUIRE_BROWSER=1 but no chromium on PATH: `make browser` installs it")
    pytest.skip("no chromium on PATH (`make browser` installs Debian's)", allow_module_level=True)


def render(page: Path, profile: Path) -> tuple[str, list[str]]:
    """The DOM after the page's scripts ran, and the console messages Chromium logged."""
    proc = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic", f"--user-data-dir={profile}",
         "--enable-logging=stderr", "--v=0", "--dump-dom", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return proc.stdout, console


def at(data, path: str):
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def shown_as_in_json(doc, data) -> set[str]:
    """Every element with a JSON path shows that value (numbers with separators, text exactly,
    empty for null); returns the paths checked."""
    checked = set()
    for el in doc.xpath("//*[@data-k]"):
        key = el.get("data-k")
        expected = at(data, key)
        if isinstance(expected, bool):
            assert el.get("data-v") == str(expected).lower(), key
            continue
        text = el.text_content()
        if el.get("data-v") is not None:  # a number, shown with thousands separators
            text = text.replace(",", "")
        if el.get("data-shown") == "visible" and expected is not None:  # control characters as ␀…␟
            expected = expected.translate({c: 0x2400 + c for c in range(32)} | {0x7F: 0x2421})
        assert text == ("" if expected is None else str(expected)), key
        checked.add(key)
    return checked


def test_the_console_check_catches_a_script_error(tmp_path):
    """The check below would see a broken page (so its silence means something)."""
    page = tmp_path / "bad.html"
    page.write_text("<html><body><script>null.x;</script></body></html>", encoding="utf-8")
    _, console = render(page, tmp_path / "profile")
    assert any("Uncaught" in line for line in console)


def test_html_report_renders_and_shows_the_json_numbers(migrated, tmp_path):
    out, _ = migrated
    assert run_cli("report", out, "--format", "html", "--output", tmp_path / "r.html").exit_code == 0
    data = json.loads(run_cli("report", out, "--format", "json").output)
    dom, console = render(tmp_path / "r.html", tmp_path / "profile")
    assert console == [], console
    doc = lxml.html.fromstring(dom)
    assert doc.body.get("data-ready") == "yes"  # the page's script ran to its end
    checked = shown_as_in_json(doc, data)
    m = "municipalities.0"
    must = {f"totals.{k}" for k in data["totals"]} | {
        f"{m}.files.0.{k}" for k in ("source_records", "landed", "rejected", "merged")} | {
        f"{m}.rejects.{i}.records" for i in range(len(data["municipalities"][0]["rejects"]))} | {
        f"{m}.alerts.{i}.records" for i in range(len(data["municipalities"][0]["alerts"]))} | {
        f"{m}.coverage.{i}.unmapped" for i in range(len(data["municipalities"][0]["coverage"]))} | {
        f"{m}.hash_totals.{i}.digit_sum" for i in range(len(data["municipalities"][0]["hash_totals"]))} | {
        f"{m}.gaiji.0.records", f"{m}.normalisations.0.records"} | {
        f"{m}.reject_samples.{j}.raw_record" for j in range(len(data["municipalities"][0]["reject_samples"]))}
    assert must <= checked, sorted(must - checked)
    # the drill-down: one folded list per reason code, at most REJECT_SAMPLES rows each
    reasons = doc.xpath("//details[@class='reason']")
    assert {d.get("data-reason") for d in reasons} == {r["code"] for r in data["municipalities"][0]["rejects"]}
    # Japanese item names with the English ids beside them
    assert "生年月日" in dom and "birth_date" in dom


def test_diff_html_renders_and_shows_the_json_numbers(tmp_path):
    from tests.test_diff import base, write_csv

    frame = base()
    old = write_csv(frame, tmp_path / "old.csv", "cp932")
    new = write_csv(frame.head(390).with_columns(氏名=pl.lit("x")), tmp_path / "new.csv", "utf-8")
    result = run_cli("diff", "--left", old, "--right", new, "--key", "宛名番号", "--out", tmp_path / "d", "--json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    dom, console = render(tmp_path / "d" / "diff.html", tmp_path / "profile")
    assert console == [], console
    doc = lxml.html.fromstring(dom)
    assert doc.body.get("data-ready") == "yes"
    checked = set()
    for el in doc.xpath("//*[@data-k]"):
        expected = at(data, el.get("data-k"))
        if isinstance(expected, bool):
            assert el.get("data-v") == str(expected).lower()
        else:
            assert el.text_content().replace(",", "") == str(expected), el.get("data-k")
        checked.add(el.get("data-k"))
    assert {"left_rows", "right_rows", "matched", "differing", "only_left", "only_right", "duplicate_keys.left",
            "columns.0.differing"} <= checked


def test_group_report_html_shows_volumes_and_money_as_the_json(tmp_path):
    from ikou.fixtures.group import generate_group
    from tests.conftest import ROOT

    generate_group(tmp_path / "in", scale=0.2)
    group = ROOT / "mappings" / "sakura_cloud" / "group.yaml"
    # exit 1: at this small scale a member is over its reject threshold; everything still lands
    assert run_cli("migrate-group", group, "--input-root", tmp_path / "in", "--out", tmp_path / "out").exit_code in (0, 1)
    assert run_cli("report", tmp_path / "out", "--format", "html", "--output", tmp_path / "r.html").exit_code == 0
    data = json.loads(run_cli("report", tmp_path / "out", "--format", "json").output)
    dom, console = render(tmp_path / "r.html", tmp_path / "profile")
    assert console == [], console
    doc = lxml.html.fromstring(dom)
    checked = shown_as_in_json(doc, data)
    assert any(k.startswith("volumes.") for k in checked)
    tax = [i for i, m in enumerate(data["municipalities"]) if m["layout"] == "tax"]
    assert len(tax) == 3 and all(f"municipalities.{i}.money_totals.0.source" in checked for i in tax)
    assert "さくら広域クラウド" in dom and "金額照合" in dom


CHECKS = """<script>
(function () {
  var r = {};
  var sections = Array.prototype.slice.call(document.querySelectorAll('details.municipality'));
  r.open = sections.filter(function (d) { return d.open; }).map(function (d) { return d.id; });
  var closed = sections.filter(function (d) { return !d.open; })[0];
  closed.querySelector('summary').click();
  r.clicked_open = closed.open;
  closed.querySelector('summary').click();
  var box = document.querySelector('input.mismatches[data-table="money-' + TAMPERED + '"]');
  var rows = function () {
    return Array.prototype.filter.call(document.getElementById(box.dataset.table).tBodies[0].rows,
      function (tr) { return tr.style.display !== 'none'; }).map(function (tr) { return tr.className || 'row'; });
  };
  r.all_rows = rows().length;
  box.checked = true; box.dispatchEvent(new Event('change'));
  r.mismatches = rows();
  box.checked = false; box.dispatchEvent(new Event('change'));
  r.again = rows().length;
  var folded = document.querySelectorAll('details:not([open])').length;
  window.dispatchEvent(new Event('beforeprint'));
  r.print_closed = document.querySelectorAll('details:not([open])').length;
  window.dispatchEvent(new Event('afterprint'));
  r.folded_before = folded; r.folded_after = document.querySelectorAll('details:not([open])').length;
  document.body.dataset.checks = JSON.stringify(r);
})();
</script></body>"""


def test_report_sections_fold_toggle_mismatches_and_print_open(tmp_path):
    """A group report with one 金額照合 mismatch (a run's summary tampered with): only that
    municipality's section starts open, a folded one opens on a click, "mismatches only" leaves the
    wrong row and its subtotal, and printing opens every section and folds them back after."""
    import duckdb

    from ikou.fixtures.group import generate_group
    from tests.conftest import ROOT

    generate_group(tmp_path / "in", scale=0.1)
    out = tmp_path / "out"
    group = ROOT / "mappings" / "sakura_cloud" / "group.yaml"
    assert run_cli("migrate-group", group, "--input-root", tmp_path / "in", "--out", out).exit_code in (0, 1)
    con = duckdb.connect(str(out / "ikou.duckdb"))
    run_id, summary = con.execute("select run_id, summary from runs where municipality_code = '991023' "
                                  "and layout = 'tax' order by finished_at desc limit 1").fetchall()[0]
    summary = json.loads(summary)
    summary["money"][4]["landed"] += 1000  # one group of one item no longer adds up
    con.execute("update runs set summary = ? where run_id = ?", [json.dumps(summary), run_id])
    con.close()
    result = run_cli("report", out, "--format", "html", "--output", tmp_path / "r.html")
    assert result.exit_code == 1, result.output  # money does not reconcile
    data = json.loads(run_cli("report", out, "--format", "json").output)
    tampered = next(i for i, m in enumerate(data["municipalities"]) if m["run_id"] == run_id)
    assert [t["reconciled"] for t in data["municipalities"][tampered]["money_totals"]].count(False) == 1
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    (tmp_path / "checks.html").write_text(
        page.replace("</body>", CHECKS.replace("TAMPERED", str(tampered))), encoding="utf-8")
    dom, console = render(tmp_path / "checks.html", tmp_path / "profile")
    assert console == [], console
    doc = lxml.html.fromstring(dom)
    shown_as_in_json(doc, data)
    r = json.loads(doc.body.get("data-checks"))
    assert r["open"] == ["m991023"]
    assert r["clicked_open"] is True
    assert r["all_rows"] > 10 and r["again"] == r["all_rows"]
    assert r["mismatches"] == ["row", "subtotal"]
    assert r["print_closed"] == 0 and r["folded_after"] == r["folded_before"] > 0
