"""``ikou migrate-group --scheduler ADDRESS``: a group's members run on a Dask distributed cluster
instead of local processes (a prefecture's 自治体クラウド group of dozens of members, more than one
machine holds).

Why Dask rather than Ray: distributed is pure Python on PyPI (wheels for every platform ikou runs
on, Windows included), it is already the engine behind polars' and DuckDB's neighbours in the
PyData stack a municipal vendor runs, its scheduler is one process (``dask scheduler``) with
workers joining over TCP, and a lost worker is a first-class event (``KilledWorker``) that maps to
"this member failed" — Ray brings its own object store, a Linux-first runtime and a much larger
install for what ikou needs: run one function per member somewhere and get its result back.

Each member is one task (``group.run_member``) that lands through OUT's lock and staging, exactly
as in a local run, so the workers must see OUT at the same path (a network file system) — or each
member lands into its own OUT. The largest members are scheduled first (by the size of their
input folder), so that a long member does not start last. A member whose worker dies (killed, out
of memory) is reported failed with a hint to rerun it alone; OUT keeps its previous data for it.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Callable

from ikou.errors import ExitCode, IkouError
from ikou.i18n import tr


def input_bytes(member) -> int:
    """The size of a member's export: what it takes to migrate, roughly."""
    folder = Path(member.input_dir)
    try:
        return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    except OSError:
        return 0


def largest_first(members) -> list:
    """Members by the size of their input, largest first (ties by code, so the order is fixed)."""
    return sorted(members, key=lambda m: (-input_bytes(m), m.code))


def connect(address: str, timeout: float = 30.0):
    """A client of the scheduler at ``address`` (tcp://host:8786); IkouError (exit 2) if it cannot
    be reached or distributed is not installed."""
    try:
        from distributed import Client
    except ImportError as exc:
        raise IkouError(tr("--scheduler needs Dask distributed, which is not installed"),
                        hint=tr("pip install 'ikou[dask]' (the same version on the workers)")) from exc
    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError) as exc:
        raise IkouError(tr("cannot reach the Dask scheduler at {address}: {exc}", address=address, exc=exc),
                        hint=tr("start it with `dask scheduler` and workers with `dask worker {address}`, "
                                "in an environment with ikou installed", address=address)) from exc


def workers(client) -> int:
    """The threads the cluster has (the summary's "in parallel"); IkouError (exit 2) when no worker
    has joined, instead of members waiting for one forever."""
    threads = sum(client.nthreads().values())
    if not threads:
        address = client.scheduler.address
        client.close()
        raise IkouError(tr("the Dask scheduler at {address} has no workers", address=address),
                        hint=tr("start it with `dask scheduler` and workers with `dask worker {address}`, "
                                "in an environment with ikou installed", address=address))
    return threads


def run_on_cluster(client, members, group_tables: dict, out: Path | None, dry_run: bool, fault,
                   record: Callable[[dict], None]) -> None:
    """Every member as one task on the cluster, largest first; ``record`` each result as it ends.
    A member whose task cannot finish (its worker lost) is recorded as failed."""
    from distributed import as_completed

    from ikou.group import MemberResult, run_member

    ordered = largest_first(members)
    run = uuid.uuid4().hex[:8]
    futures = {}
    for rank, m in enumerate(ordered):
        # pure=False and a fresh key: a rerun is a new task, never a cached result
        future = client.submit(run_member, m, group_tables, out, dry_run, fault, key=f"ikou-member-{m.code}-{run}",
                               pure=False, retries=0, priority=len(ordered) - rank)
        futures[future] = m
    try:
        for future in as_completed(list(futures)):
            m = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - KilledWorker, a lost connection: this member failed
                result = MemberResult(m.code, m.name, "failed", int(ExitCode.BAD_INPUT), error=tr(
                    "the Dask worker running member {code} was lost ({kind}: {exc}): out of memory or stopped? "
                    "Rerun it alone (--member {code}); OUT keeps its previous data",
                    code=m.code, kind=type(exc).__name__, exc=exc)).__dict__
            record(result)
    finally:
        pending = [f for f in futures if not f.done()]
        if pending:  # interrupted: members not started never start (a running one may still commit)
            client.cancel(pending)
