"""How fast can many worker processes record into one ledger?  SQLite beside PostgreSQL.

    .venv/bin/python -m benchmarks.ledger_load [--workers 1 2 4 8] [--seconds 10] [--pg URL]
                                               [--backends sqlite postgres] [--json FILE]

For each backend and each number of workers it makes a fresh ledger (a SQLite file in a temporary
folder; a fresh schema in the PostgreSQL database at ``--pg``, default ``$POLICY_TEST_PG`` or the
local server), starts that many worker processes, and lets each one record real comments
(``Ledger.process``: check against the author's standing and record verdict, strike, sanction and
audit rows in one transaction) for ``--seconds`` after a common start.  Every post has a fresh id
and authors rotate over 500 ids, so strikes and sanctions accumulate as on a real site.  Every
record is timed in its worker; the table gives records/s over all workers and the p50 and p99 of a
record's latency, and each worker's CPU share shows where the time went.

Posts are a seeded sample of COLD's dev split from ``../shared/data/`` (never copied into the
project); without it a built-in list of comments, and the output says so.  The bundled convention
checks them (the policy is compiled once into a cache before the workers start).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from benchmarks.load_service import DEFAULT_DATA, load_corpus

DEFAULT_PG = os.environ.get("POLICY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
USERS = 500


def _worker(target: str, cache: str, texts: list[str], index: int, seconds: float, start_at: float,
            results: Any) -> None:
    """One pipeline worker: record posts until its time is up; report its latencies and CPU."""
    from policy import Engine, Post
    from policy.store import open_ledger

    engine = Engine.load(cache_dir=cache)
    ledger = open_ledger(target)
    latencies: list[float] = []
    n = 0
    while time.time() < start_at:
        time.sleep(0.001)
    cpu0 = time.process_time()
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        text = texts[(index * 7919 + n) % len(texts)]
        post = Post.from_dict({"id": f"w{index}-{n}", "body": text, "author": {"id": f"u{(index * 131 + n) % USERS}"}})
        t0 = time.perf_counter()
        ledger.process(engine, post)
        latencies.append(time.perf_counter() - t0)
        n += 1
    elapsed = time.perf_counter() - started
    results.put({"worker": index, "records": n, "seconds": elapsed, "latencies": latencies,
                 "cpu": time.process_time() - cpu0})
    ledger.close()


def fresh_target(backend: str, tmp: Path, pg: str, label: str) -> tuple[str, Any]:
    """A new, empty ledger's name, and how to remove it afterwards."""
    if backend == "sqlite":
        path = tmp / f"{label}.db"
        return str(path), lambda: None
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")

    def drop() -> None:
        with psycopg.connect(pg, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")

    joiner = "&" if "?" in pg else "?"
    return f"{pg}{joiner}options=-csearch_path%3D{schema}", drop


def measure(backend: str, workers: int, seconds: float, texts: list[str], cache: str, tmp: Path,
            pg: str) -> dict[str, Any]:
    from policy.store import open_ledger

    target, drop = fresh_target(backend, tmp, pg, f"{backend}-{workers}")
    try:
        open_ledger(target).close()  # migrated once, before the workers race to it
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        start_at = time.time() + 4.0 + 0.5 * workers  # every worker loaded and connected first
        processes = [context.Process(target=_worker, args=(target, cache, texts, i, seconds, start_at, results))
                     for i in range(workers)]
        for p in processes:
            p.start()
        rows = [results.get(timeout=seconds + 120) for _ in processes]
        for p in processes:
            p.join()
        from policy.store import open_ledger as reopen

        ledger = reopen(target)
        audit_ok = ledger.verify_audit().ok
        recorded = len(ledger.verdicts())
        ledger.close()
    finally:
        drop()
    latencies = sorted(x for r in rows for x in r["latencies"])
    total = sum(r["records"] for r in rows)
    wall = max(r["seconds"] for r in rows)
    return {"backend": backend, "workers": workers, "records": total, "records_per_s": total / wall,
            "p50_ms": statistics.median(latencies) * 1e3,
            "p99_ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))] * 1e3,
            "worker_cores": [round(r["cpu"] / r["seconds"], 2) for r in sorted(rows, key=lambda r: r["worker"])],
            "recorded": recorded, "audit_ok": audit_ok}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ledger_load", description=__doc__.split("\n\n")[0])
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--backends", nargs="+", choices=["sqlite", "postgres"], default=["sqlite", "postgres"])
    p.add_argument("--pg", default=DEFAULT_PG, help=f"PostgreSQL database (default {DEFAULT_PG})")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--posts", type=int, default=2000)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    if min(args.workers) < 1 or args.seconds <= 0:
        p.error("--workers and --seconds must be positive")
    corpus = load_corpus(args.data, "cold", args.posts)
    print(f"posts: {corpus.source}", file=sys.stderr)
    from policy import Engine

    rows = []
    with tempfile.TemporaryDirectory(prefix="ledger-load-") as name:
        tmp = Path(name)
        cache = str(tmp / "cache")
        Engine.load(cache_dir=cache)
        for backend in args.backends:
            for workers in args.workers:
                row = measure(backend, workers, args.seconds, corpus.texts, cache, tmp, args.pg)
                rows.append(row)
                print(f"  {backend:8s} workers={workers}  {row['records_per_s']:8,.0f} records/s  p50 "
                      f"{row['p50_ms']:7.2f} ms  p99 {row['p99_ms']:8.2f} ms  cores {row['worker_cores']}  "
                      f"audit {'ok' if row['audit_ok'] else 'BROKEN'}", file=sys.stderr)
    print(f"\n{platform.node()}: {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{args.seconds:g} s a level\n")
    print("| backend | workers | records/s | p50 ms | p99 ms | cores per worker | audit verifies |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['backend']} | {r['workers']} | {r['records_per_s']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} "
              f"| {' + '.join(str(c) for c in r['worker_cores'])} | {'yes' if r['audit_ok'] else 'NO'} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0 if all(r["audit_ok"] and r["recorded"] == r["records"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
