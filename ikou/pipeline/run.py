"""``ikou migrate``: one municipality's legacy export into the standard layout.

Phases (each timed in the summary):
1. ``check`` → ``Plan``: load the mapping and layout, find the files, read every header; every
   file-level problem (missing file, empty file, undecodable header, missing column) is collected
   and reported at once, before anything is written.
2. ``extract``: stream each file in chunks through the row stages (pipeline/stages.py) and the
   pandera schema; write each chunk's rows, issues and changes to the run's staging folder.
   Code tables whose policy is ``fail`` stop the run here, again before anything is landed.
3. ``resolve``: set-level rules on the staged rows: exact dedup, then household rules.
4. ``assemble``: the landed table, rejects (with raw records), alerts, lineage, cleansing
   changes and code coverage, as Parquet in the staging folder.
5. ``reconcile``: count every fate back from the written outputs; each source record must be
   landed, rejected, merged or excluded exactly once; a delta run's changes must balance
   (pipeline/delta.py).
6. ``land``: one DuckDB transaction, then the Parquet partition swap (pipeline/landing.py).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
import time
from pathlib import Path

from ikou.errors import ExitCode, IkouError
from ikou.i18n import tr
from ikou.pipeline import delta, landing
from ikou.pipeline.assemble import assemble
from ikou.pipeline.check import plan
from ikou.pipeline.extract import check_fail_codes, extract
from ikou.pipeline.reconcile import reconcile, run_row
from ikou.pipeline.resolve import resolve_all
from ikou.pipeline.state import RunOptions, RunState, layout_file, layout_tables, log
from ikou.progress import NoProgress, Progress
from ikou.report import RunSummary


def migrate(opts: RunOptions, progress: Progress | None = None) -> RunSummary:
    started = dt.datetime.now(dt.timezone.utc)
    t0 = time.perf_counter()
    new_out = opts.out is not None and not opts.dry_run and not opts.out.exists()
    progress = progress or NoProgress()
    try:
        summary = _migrate(opts, progress, started, t0)
        progress.finish()
        return summary
    except BaseException:
        progress.finish(ok=False)
        raise
    finally:
        if new_out:
            _forget_if_empty(opts.out)


def _forget_if_empty(out: Path) -> None:
    """An OUT this run created and did not land in (a file-level error found while streaming, a
    failure before the commit) is removed again: it holds only the lock file and an empty staging
    folder, and the user's folder is as it was."""
    if not out.is_dir():
        return
    with landing.locked(out):  # no other ikou process is landing in it meanwhile
        left = {p.name for p in out.iterdir()}
        staging = out / landing.STAGING
        empty = left <= {".ikou.lock", landing.STAGING} and not (staging.is_dir() and any(staging.iterdir()))
    if empty:
        shutil.rmtree(out, ignore_errors=True)


def _migrate(opts: RunOptions, progress: Progress, started: dt.datetime, t0: float) -> RunSummary:
    progress.phase("check")
    checked = plan(opts, started)
    mapping, run_id = checked.mapping, checked.run_id
    if opts.dry_run or opts.out is None:
        work = Path(tempfile.mkdtemp(prefix=f"ikou-{run_id}-"))
    else:
        with landing.locked(opts.out):
            for note in landing.recover(opts.out):
                log.warning("%s", note)
            work = landing.staging_dir(opts.out, run_id)
            work.mkdir(parents=True, exist_ok=False)
            active = landing.hold_active(work)
    run = RunState(opts, checked, work, progress=progress)
    if not (opts.dry_run or opts.out is None):
        run.active = active
    run.timings["check"] = time.perf_counter() - t0
    committed = False
    try:
        progress.phase("extract")
        extract(run, progress)
        check_fail_codes(run)
        resolved = resolve_all(run)  # its phases: exact duplicates and household rules, then 名寄せ
        if opts.dry_run or opts.out is None:
            progress.phase("assemble")
            delta.snapshot(checked.delta_base, run.work)
            assemble(run, resolved, None)
            progress.phase("reconcile")
            summary = reconcile(run)
            _fail_unreconciled(run, summary)
            _keep_debug(run)
            return summary
        with landing.locked(opts.out):
            # held from here to the commit: the base of a delta cannot change under it
            delta.snapshot(checked.delta_base, run.work, held=opts.out)
            lander = landing.Landing(opts.out, run.work, mapping.municipality_code, mapping.layout.id,
                                     fault=opts.fault, skip_layout_tables="duckdb_table" in opts.without)
            try:
                progress.phase("assemble")
                assemble(run, resolved, lander)
                progress.phase("reconcile")
                summary = reconcile(run)
                _fail_unreconciled(run, summary)
                _keep_debug(run)  # before the commit tidies the staging folder away
                progress.phase("land")
                t = time.perf_counter()
                keep_layout(opts.out, mapping.layout)
                lander.commit(list(layout_tables(run)), run_row(run, summary, started), summary.to_json(),
                              extra_dirs=[f"review/{mapping.municipality_code}"])
                committed = True
                log.info("committed in %.1f s", time.perf_counter() - t)
            finally:
                if not committed:
                    lander.abort()
        return summary
    finally:
        _cleanup(run, committed)


def keep_layout(out: Path, layout) -> None:
    """Keep the layout file a run used in OUT, named by its content: `ikou report` reads the same
    item names, keys and money items from any folder, and after the layout file has changed."""
    target = out / layout_file(layout)
    if target.exists() or not layout.text:
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(layout.text, encoding="utf-8")
    os.replace(tmp, target)


def _fail_unreconciled(run: RunState, summary: RunSummary) -> None:
    if not summary.reconciled:
        kept = _keep_failed(run)
        raise IkouError(tr("reconciliation failed: some source records have no single fate; nothing was landed"),
                        problems=list(summary.reconciliation_problems), exit_code=ExitCode.INTERNAL,
                        hint=tr("the run's staged outputs are kept in {kept} for diagnosis", kept=kept))


def _keep_failed(run: RunState) -> Path:
    if run.opts.dry_run or run.opts.out is None:
        return run.work  # a temporary folder: left in place
    kept = run.opts.out / "failed" / run.run_id
    kept.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(run.work), kept)
    return kept


DEBUG_NOTICE = """These are ikou's row stages' outputs of run {run_id}, kept with --debug.
They hold the export's real values, 個人番号 and names included, unmasked: personal data.
Keep them where the export itself may be kept, and delete them when the diagnosis is done.
このフォルダには個人番号・氏名などの個人情報がマスクされずに含まれます。調査が済んだら削除してください。
"""


def _keep_debug(run: RunState) -> None:
    """With --debug, keep every stage's output under OUT/debug/<run_id>/, or, in a dry run (which
    writes nothing to OUT), in a private temporary folder (never the current directory), each
    with a notice that it holds personal data unmasked."""
    if not run.opts.debug or run.debug_kept or not (run.work / "debug").exists():
        return
    run.debug_kept = True
    out = run.opts.out if run.opts.out is not None and not run.opts.dry_run else None
    if out is not None:
        keep = out / "debug" / run.run_id
        keep.parent.mkdir(parents=True, exist_ok=True)
    else:
        keep = Path(tempfile.mkdtemp(prefix=f"ikou-debug-{run.run_id}-"))  # readable by its owner only
    shutil.copytree(run.work / "debug", keep, dirs_exist_ok=True)
    if out is None:
        os.chmod(keep, 0o700)  # copytree copied the staging folder's mode: the owner's only
    (keep / "PERSONAL_DATA.txt").write_text(DEBUG_NOTICE.format(run_id=run.run_id), encoding="utf-8")
    log.warning("stage outputs kept in %s: they hold personal data unmasked (see PERSONAL_DATA.txt there)", keep)


def _cleanup(run: RunState, committed: bool) -> None:
    """Remove what an unfinished run staged (keeping --debug stage outputs)."""
    opts = run.opts
    if run.active is not None:
        run.active.close()  # this run is over: its staging may be tidied (by itself, just below)
        run.active = None
    _keep_debug(run)  # once, whatever the run's end (a failed reconciliation keeps its folder whole)
    if opts.dry_run or opts.out is None:
        shutil.rmtree(run.work, ignore_errors=True)
        return
    if committed:
        # the commit tidied the staging folder away; where the open .active file kept it (Windows
        # deletes no open file) it goes now that the file is closed
        shutil.rmtree(run.work, ignore_errors=True)
        return
    if not run.work.exists():
        return
    try:
        with landing.locked(opts.out):
            for note in landing.recover(opts.out, opts.fault):
                log.info("%s", note)
    except Exception as exc:  # noqa: BLE001 - the run's own error is the one to report
        log.warning("could not tidy %s now (%s); the next ikou command on it will", opts.out, exc)
