"""Benchmark: duplicate detection (名寄せ) quality and speed, ikou against plain splink, in the same run.

The population comes from ``bench/people.py``, a generator that shares no table with ikou's
cleansing code (names with a realistic frequency, namesakes, twins, children named after a
parent, second registrations with 異体字, kana typos, maiden names, 通称, romaji, moves, changed
phones …; the truth for every pair). For each size:

- ikou: `ikou migrate` with the bundled mapping (dedup.method probabilistic, the default
  auto_merge_requires) as a separate process. Precision and recall of its merges (lineage:
  merged record -> survivor), recall of merges + review queue, the queue's size, wrong merges
  among the hard negatives, the dedup stage's time (summary.json), the whole run's time and peak RSS;
  recall per kind of variation and why sure pairs were held for review.
- plain splink, NFKC only: the same candidate persons (from a run with dedup.method exact), every
  text NFKC-normalised and nothing else, splink's library comparisons (Jaro-Winkler names,
  DateOfBirthComparison, exact sex/address/postal code/phone), tutorial-style training
  (u by random sampling, EM on birth date and on name); pairs at or above the same threshold,
  clustered.

Precision and recall are over (duplicate record, record it duplicates) pairs. Not a test: wall
times depend on the machine; both are measured here, one after the other.

    python bench/bench_dedup.py --sizes 100000 1000000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import people
import polars as pl
from measure import measure

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "mappings" / "sakuragaoka_991015.yaml"
TARGETS = {"precision": 0.999, "recall_with_review": 0.99, "review_share_of_records": 0.01, "dedup_seconds_1m": 60,
           "migrate_peak_rss_gb_1m": 1.5}


def truth_pairs(export: Path) -> dict[tuple[int, int], str]:
    """(duplicate line, survivor line) -> the kinds of variation planted."""
    t = pl.read_csv(export / "expected.csv", schema_overrides={"code": pl.String, "item": pl.String})
    t = t.filter(pl.col("code") == "probable_duplicate")
    return dict(zip(zip(t["line"].to_list(), t["survivor_line"].to_list()), t["defect"].to_list()))


def scores(predicted: set[tuple[int, int]], truth: set[tuple[int, int]]) -> dict:
    hit = len(predicted & truth)
    return {"predicted": len(predicted), "true": len(truth), "correct": hit,
            "precision": round(hit / len(predicted), 4) if predicted else None,
            "recall": round(hit / len(truth), 4) if truth else None}


def landed_persons(out: Path) -> pl.DataFrame:
    """The candidate records as dedup sees them: landed rows, with their source line as id."""
    con = duckdb.connect(str(out / "ikou.duckdb"), read_only=True)
    try:
        return con.sql("""select r.*, l.source_line as _rid from resident r join lineage l on l.fate = 'landed'
                          and l.target_key = 'atena_number=' || r.atena_number || ';history_number=' ||
                          r.history_number || ';history_branch_number=' || r.history_branch_number""").pl()
    finally:
        con.close()


def plain_splink(rows: pl.DataFrame, auto_merge: float, review: float) -> tuple[set[tuple[int, int]], float]:
    """Splink as a team would set it up from its tutorial, on NFKC-normalised text only."""
    import logging

    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    from ikou.cleansing.probable import connected_components

    t = time.perf_counter()
    latest = rows.filter(pl.col("history_number") == pl.col("history_number").max().over("atena_number"))
    nfkc = lambda c: pl.col(c).cast(pl.String).str.normalize("NFKC")  # noqa: E731
    frame = latest.select(
        pl.col("_rid").alias("unique_id"), nfkc("name").alias("name"), nfkc("name_kana").alias("name_kana"),
        pl.col("birth_date").cast(pl.String).alias("birth_date"),
        pl.col("birth_date").dt.year().cast(pl.String).alias("birth_year"), nfkc("sex").alias("sex"),
        pl.concat_str([nfkc("address_town_id"), nfkc("address_block")], separator=" ").alias("address"),
        nfkc("postal_code").alias("postal_code"), nfkc("phone_number").alias("phone"))
    settings = SettingsCreator(
        link_type="dedupe_only", unique_id_column_name="unique_id",
        comparisons=[cl.JaroWinklerAtThresholds("name", [0.9, 0.7]), cl.JaroWinklerAtThresholds("name_kana", [0.9, 0.7]),
                     cl.DateOfBirthComparison("birth_date", input_is_string=True), cl.ExactMatch("sex"),
                     cl.ExactMatch("address"), cl.ExactMatch("postal_code"), cl.ExactMatch("phone")],
        blocking_rules_to_generate_predictions=[block_on("name", "birth_year"), block_on("name_kana", "birth_year"),
                                                block_on("birth_date", "postal_code"), block_on("phone")])
    api = DuckDBAPI()
    linker = Linker(api.register(frame.to_arrow(), table_name="plain"), settings, log_level=logging.ERROR)
    linker.training.estimate_probability_two_random_records_match([block_on("name", "birth_date")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=42)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("birth_date"), max_pairs=3e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("name"), max_pairs=3e6)
    pairs = pl.from_arrow(linker.inference.predict(threshold_match_probability=review).as_pyarrow_table())
    edges = pairs.filter(pl.col("match_probability") >= auto_merge).select(a="unique_id_l", b="unique_id_r")
    merged: set[tuple[int, int]] = set()
    if edges.height:
        clusters = connected_components(edges)
        merged = {(n, c) for n, c in clusters.iter_rows() if n != c}
    return merged, time.perf_counter() - t


def bench(size: int, work: Path, rate: float) -> dict:
    # an export generated by another version of the generators is generated again
    import ikou.fixtures.generator as base
    stamp = hashlib.sha256(Path(people.__file__).read_bytes() + Path(base.__file__).read_bytes()
                           + f"{rate}".encode()).hexdigest()[:16]
    export = work / f"people-{size}-{stamp}"
    if not (export / "expected.csv").exists():
        subprocess.run(["rm", "-rf", *map(str, work.glob(f"people-{size}-*"))], check=True)
        print(f"generating {size:,} residents, {rate:.0%} registered twice …", flush=True)
        print(people.generate(export, size, rate=rate), flush=True)
    kinds = truth_pairs(export)
    truth = set(kinds)
    text = MAPPING.read_text(encoding="utf-8")
    probabilistic, exact = work / "mapping_probabilistic.yaml", work / "mapping_exact.yaml"
    probabilistic.write_text(text, encoding="utf-8")
    exact.write_text(text.replace("method: probabilistic", "method: exact"), encoding="utf-8")

    out = work / f"out-{size}"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    steps: list[str] = []
    wall, rss, stdout = measure([sys.executable, "-m", "ikou", "-v", "migrate", "--mapping", str(probabilistic),
                                 "--input", str(export), "--out", str(out), "--json"], log=steps)
    steps = [line.removeprefix("ikou: dedup: ") for line in steps if line.startswith("ikou: dedup: ")]
    summary = json.loads(stdout)
    d = summary["dedup"][0]
    con = duckdb.connect(str(out / "ikou.duckdb"), read_only=True)
    merged = con.sql("select source_line, survivor_line from lineage where merge_reason = 'probable_duplicate'")
    ikou_pairs = set(merged.fetchall())
    queue = con.sql("select source_line_1, source_line_2, regexp_extract(evidence, 'held: (.*)$', 1) from review_queue")
    queued = queue.fetchall()
    con.close()
    unordered = {tuple(sorted(p)) for p in ikou_pairs} | {tuple(sorted(q[:2])) for q in queued}
    found = {t for t in truth if tuple(sorted(t)) in unordered}
    per_kind: dict[str, list[int]] = {}
    for pair, kind in kinds.items():
        for k in kind.split("+"):
            per_kind.setdefault(k, [0, 0])
            per_kind[k][0] += pair in ikou_pairs
            per_kind[k][1] += pair in found
    counts = {k: sum(1 for kind in kinds.values() if k in kind.split("+")) for k in per_kind}
    held: dict[str, int] = {}
    for *_, why in queued:
        for w in (why or "below auto_merge").split(", "):
            held[w] = held.get(w, 0) + 1
    negatives = pl.read_csv(export / "hard_negatives.csv")
    neg = {tuple(sorted(p)) for p in zip(negatives["line_a"], negatives["line_b"])}
    merged_unordered = {tuple(sorted(p)) for p in ikou_pairs}

    base_out = work / f"out-exact-{size}"
    subprocess.run(["rm", "-rf", str(base_out)], check=True)
    measure([sys.executable, "-m", "ikou", "migrate", "--mapping", str(exact), "--input", str(export),
         "--out", str(base_out)])
    plain_pairs, plain_seconds = plain_splink(landed_persons(base_out), d["auto_merge"], d["review"])
    return {
        "records": summary["totals"]["source_records"], "persons_compared": d["persons_compared"],
        "auto_merge": d["auto_merge"],
        "ikou": {**scores(ikou_pairs, truth), "recall_with_review": round(len(found) / len(truth), 4),
                 "dedup_seconds": d["seconds"], "dedup_steps": steps, "migrate_seconds": round(wall, 1),
                 "migrate_peak_rss_gb": round(rss, 2), "review_pairs": d["review_pairs"],
                 "review_share_of_records": round(d["review_pairs"] / summary["totals"]["source_records"], 4),
                 "hard_negatives": len(neg), "hard_negatives_merged": len(neg & merged_unordered),
                 "recall_by_kind": {k: {"pairs": counts[k], "merged": round(v[0] / counts[k], 3),
                                        "merged_or_review": round(v[1] / counts[k], 3)}
                                    for k, v in sorted(per_kind.items())},
                 "review_reasons": dict(sorted(held.items(), key=lambda x: -x[1]))},
        "plain_splink_nfkc": {**scores(plain_pairs, truth), "dedup_seconds": round(plain_seconds, 1)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--hard-duplicates", type=float, default=0.05)
    ap.add_argument("--workdir", type=Path, default=ROOT / "build" / "bench-dedup")
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    path = args.workdir / "bench_dedup_result.json"
    results = json.loads(path.read_text(encoding="utf-8"))["results"] if path.exists() else {}
    for size in args.sizes:
        r = bench(size, args.workdir, args.hard_duplicates)
        results[str(size)] = r
        print(f"\n{size:,} residents: {r['records']:,} records, {r['persons_compared']:,} persons, "
              f"auto_merge {r['auto_merge']}")
        for name in ("ikou", "plain_splink_nfkc"):
            x = r[name]
            print(f"  {name:<18} precision {x['precision']}  recall {x['recall']}  "
                  f"({x['correct']:,} of {x['true']:,} true pairs; {x['predicted']:,} merged)  "
                  f"dedup {x['dedup_seconds']} s")
        x = r["ikou"]
        print(f"  ikou recall with review {x['recall_with_review']}; {x['review_pairs']:,} pairs for review "
              f"({x['review_share_of_records']:.2%} of records); hard negatives merged {x['hard_negatives_merged']} "
              f"of {x['hard_negatives']}")
        print(f"  ikou migrate total {x['migrate_seconds']} s, peak RSS {x['migrate_peak_rss_gb']} GB")
        print("  ikou dedup steps: " + "; ".join(x["dedup_steps"]))
        print("  recall by kind (merged / merged or review): " + ", ".join(
            f"{k} {v['merged']}/{v['merged_or_review']} ({v['pairs']})" for k, v in x["recall_by_kind"].items()))
        print("  review queue: " + ", ".join(f"{k} {v:,}" for k, v in x["review_reasons"].items()))
    out = {"targets": TARGETS, "cpu_count": os.cpu_count(), "results": results}
    path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
