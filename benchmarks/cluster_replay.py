"""Replay and bulk re-check of a million posts: one process beside a local Dask cluster.

    .venv/bin/python -m benchmarks.cluster_replay [--posts 1000000] [--files 10] [--workers 2]
                                                  [--jobs replay scan] [--json FILE]

Writes ``--posts`` generated posts as ``--files`` JSON-lines shards in a temporary folder: real
comments (a seeded sample of COLD's dev split from ``../shared/data/``, never copied into the
project; a built-in list without it, and the output says so) under fresh ids, authors rotating over
500 ids.  Then runs each job as a user would, a ``policy`` command in its own process:

- ``replay``: the bundled convention against a copy with three more insult terms, ``policy replay
  --workers 1`` (one process) and ``policy replay --cluster local --workers N``;
- ``scan``: a bulk re-check with the bundled convention, ``policy scan`` and ``policy scan
  --cluster local --workers N``, verdicts to /dev/null.

For each it gives the wall time, posts/s, the speed-up, and the peak memory of the whole process
tree (the client, the scheduler and every worker, sampled every 0.2 s).  Policies come from a warm
compile cache.  The cluster's time includes starting it (about 2 s).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from benchmarks.load_service import DEFAULT_DATA, load_corpus

ROOT = Path(__file__).resolve().parent.parent
POLICY = [sys.executable, "-m", "policy.cli"]
NEW_TERMS = "\n# added by benchmarks.cluster_replay\n蠢猪\tstrong\n憨批\tstrong\n脑残粉\tstrong\n"


def write_posts(folder: Path, texts: list[str], posts: int, files: int) -> list[str]:
    paths = []
    per_file = -(-posts // files)
    for k in range(files):
        path = folder / f"posts-{k:03d}.jsonl"
        with open(path, "w", encoding="utf-8") as f:
            for n in range(k * per_file, min(posts, (k + 1) * per_file)):
                f.write(json.dumps({"id": f"g{n}", "body": texts[n % len(texts)], "author": {"id": f"u{n % 500}"}},
                                   ensure_ascii=False) + "\n")
        paths.append(str(path))
    return paths


def timed(command: list[str]) -> tuple[float, float]:
    """Run ``command``; (wall seconds, peak MiB of its process tree)."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=ROOT)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(proc.pid)
        while not done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            done.wait(0.2)

    watcher = threading.Thread(target=sample, daemon=True)
    watcher.start()
    _, err = proc.communicate()
    elapsed = time.perf_counter() - started
    done.set()
    watcher.join()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}):\n{err.decode()[-2000:]}")
    return elapsed, peak / 2**20


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.cluster_replay", description=__doc__.split("\n\n")[0])
    p.add_argument("--posts", type=int, default=1_000_000)
    p.add_argument("--files", type=int, default=10)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--jobs", nargs="+", choices=["replay", "scan"], default=["replay", "scan"])
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--json", type=Path, help="also write the figures here")
    args = p.parse_args(argv)
    corpus = load_corpus(args.data, "cold", 6431)
    print(f"posts: {corpus.source}", file=sys.stderr)
    results = []
    with tempfile.TemporaryDirectory(prefix="cluster-replay-") as name:
        tmp = Path(name)
        paths = write_posts(tmp, corpus.texts, args.posts, args.files)
        size = sum(os.path.getsize(path) for path in paths) / 2**20
        print(f"{args.posts:,} posts in {args.files} files, {size:,.0f} MiB", file=sys.stderr)
        new = tmp / "new"
        shutil.copytree(ROOT / "conventions", new)
        with open(new / "lexicons" / "abuse.txt", "a", encoding="utf-8") as f:
            f.write(NEW_TERMS)
        cache = ["--cache", str(tmp / "cache")]
        subprocess.run([*POLICY, "scan", *cache, paths[0]], stdout=subprocess.DEVNULL, check=False, cwd=ROOT)
        jobs = {
            "replay": ([*POLICY, "replay", "--old", str(ROOT / "conventions"), "--new", str(new), *cache, "--format",
                        "json", *paths], ["--workers", "1"]),
            "scan": ([*POLICY, "scan", *cache, *paths], []),
        }
        for job in args.jobs:
            command, single = jobs[job]
            one = timed([*command, *single])
            print(f"  {job}, one process: {one[0]:.1f} s", file=sys.stderr)
            many = timed([*command, "--cluster", "local", "--workers", str(args.workers)])
            print(f"  {job}, local cluster: {many[0]:.1f} s", file=sys.stderr)
            results.append({"job": job, "one_s": one[0], "one_mib": one[1], "cluster_s": many[0],
                            "cluster_mib": many[1]})
    print(f"\n{args.posts:,} posts, {os.cpu_count()} cores, local cluster of {args.workers} workers\n")
    print("| job | one process | posts/s | peak memory | local cluster | posts/s | peak memory | speed-up |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['job']} | {r['one_s']:.1f} s | {args.posts / r['one_s']:,.0f} | {r['one_mib']:,.0f} MiB | "
              f"{r['cluster_s']:.1f} s | {args.posts / r['cluster_s']:,.0f} | {r['cluster_mib']:,.0f} MiB | "
              f"{r['one_s'] / r['cluster_s']:.2f}× |")
    if args.json:
        args.json.write_text(json.dumps({"posts": args.posts, "workers": args.workers, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
