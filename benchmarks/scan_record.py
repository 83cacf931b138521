"""What does recording cost a scan?  ``policy scan`` bare, and recording into SQLite and PostgreSQL.

    .venv/bin/python -m benchmarks.scan_record [--posts 3000] [--batch 1 200] [--runs 3] [--pg URL]

The same ``policy scan --format json FILE`` runs end to end (JSON lines in, verdict lines out to
/dev/null, the bundled convention from a warm compile cache) in this process: without a ledger, then
with ``--db`` on a fresh SQLite file and a fresh PostgreSQL schema, at each ``--batch`` (posts a
transaction; 1 is a transaction a post, as every scan recorded before batching).  Each figure is the
median of ``--runs`` runs; a second run over the same ledger, which skips every post, is timed too.
Posts are real comments (COLD's dev split from ``../shared/data/``, authors rotating over 500 ids),
never copied into the project; past the sample's 6,431 the same comments come again under new ids.
Recording's share is 1 - bare time / recording time, the bare time being the median of the bare
scans run just before each of that row's recording runs: a machine whose speed drifts during the
benchmark (a shared host) weighs on both sides of a ratio alike.  The bare row is the median of all.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.ledger_load import DEFAULT_PG, fresh_target
from benchmarks.load_service import DEFAULT_DATA, load_corpus


def timed_scan(args: list[str]) -> float:
    from policy.cli import main

    sink = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(io.StringIO()):
        code = main(["scan", "--format", "json", *args])
    elapsed = time.perf_counter() - started
    if code not in (0, 1):
        raise SystemExit(f"scan failed with exit {code}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.scan_record", description=__doc__.split("\n\n")[0])
    p.add_argument("--posts", type=int, default=3000)
    p.add_argument("--batch", type=int, nargs="+", default=[1, 200])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--backends", nargs="+", choices=["sqlite", "postgres"], default=["sqlite", "postgres"])
    p.add_argument("--pg", default=DEFAULT_PG)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = p.parse_args(argv)
    corpus = load_corpus(args.data, "cold", args.posts)
    print(f"posts: {corpus.source}", file=sys.stderr)
    rows: list[tuple[str, int | None, float, float | None, float]] = []
    with tempfile.TemporaryDirectory(prefix="scan-record-") as name:
        tmp = Path(name)
        posts = tmp / "posts.jsonl"
        texts = [corpus.texts[i % len(corpus.texts)] for i in range(args.posts)]  # past the sample: again
        posts.write_text("".join(json.dumps({"id": f"s{i}", "body": text, "author": {"id": f"u{i % 500}"}},
                                            ensure_ascii=False) + "\n" for i, text in enumerate(texts)),
                         encoding="utf-8")
        common = ["--cache", str(tmp / "cache"), str(posts)]
        timed_scan(common)  # compile the cache
        beside = [timed_scan(common) for _ in range(args.runs)]
        for backend in args.backends:
            for batch in args.batch:
                first, skip, bare_here = [], [], []
                for run in range(args.runs):
                    bare_here.append(timed_scan(common))  # the bare scan again, beside each recording run
                    target, drop = fresh_target(backend, tmp, args.pg, f"{backend}-{batch}-{run}")
                    try:
                        first.append(timed_scan(["--db", target, "--batch", str(batch), *common]))
                        skip.append(timed_scan(["--db", target, "--batch", str(batch), *common]))
                    finally:
                        drop()
                beside += bare_here
                rows.append((backend, batch, statistics.median(first), statistics.median(skip),
                             statistics.median(bare_here)))
                print(f"  {backend} batch {batch}: {statistics.median(first):.2f} s", file=sys.stderr)
    n = args.posts
    bare = statistics.median(beside)
    rows.insert(0, ("none (check only)", None, bare, None, bare))
    print(f"\n{n:,} posts, median of {args.runs} runs, {os.cpu_count()} cores\n")
    print("| ledger | posts a transaction | posts/s | time s | recording's share | re-run (all skipped) posts/s |")
    print("|---|---|---|---|---|---|")
    for ledger, batch, seconds, again, bare_beside in rows:
        share = "–" if batch is None else f"{1 - bare_beside / seconds:.0%}"
        print(f"| {ledger} | {batch or '–'} | {n / seconds:,.0f} | {seconds:.2f} | {share} | "
              f"{'–' if again is None else f'{n / again:,.0f}'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
