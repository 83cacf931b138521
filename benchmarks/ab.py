"""Is a change faster?  ``check()`` of the working tree against another revision, interleaved.

    .venv/bin/python -m benchmarks.ab [REV] [--rounds N] [--long] [--no-data]

REV (default ``HEAD``) is checked out in a temporary ``git worktree`` and its compiled core built
there (``setup.py build_ext --inplace``), so both sides run the same per-post path: the compiled
one, or pure Python with ``--pure`` (each side reports the path it ran).  Each round runs one fresh
process per side, the base first, on the same posts (the short clean and violating posts of
``benchmarks.compare``, and with ``--long`` its 5,000-character ones: real text when
``../shared/data/`` is present, generated otherwise).  A
process reports the best of seven passes (mean µs per post); the table gives each side's median
over the rounds and the ratio.  Interleaving and fresh processes keep a shared machine's drift out
of the ratio; a difference under about 3% is noise here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks import compare

ROOT = Path(__file__).resolve().parent.parent
SHORT = ("short_clean", "short_violating")
LONG = ("long_clean", "long_violating")

_CHILD = """
import json, sys, time
from policy import Engine
from policy.runtime.core import PATH
sets = json.load(open(sys.argv[1], encoding="utf-8"))
engine = Engine.load()
out = {"path": PATH}
for name, texts in sets.items():
    posts = [{"id": "ab", "body": t} for t in texts]
    for post in posts:
        engine.check(post)
    best = float("inf")
    for _ in range(7):
        started = time.perf_counter()
        for post in posts:
            engine.check(post)
        best = min(best, (time.perf_counter() - started) / len(posts))
    out[name] = best * 1e6
print(json.dumps(out))
"""


def _run(tree: Path, texts_file: Path, pure: bool) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0", "POLICY_PURE_PYTHON": "1" if pure else "0"}
    done = subprocess.run([sys.executable, "-c", _CHILD, str(texts_file)], env=env, cwd=tree,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"benchmarks.ab: the check in {tree} failed:\n{done.stderr.strip()}")
    return json.loads(done.stdout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.ab", description=__doc__.split("\n\n")[0])
    parser.add_argument("rev", nargs="?", default="HEAD", help="the revision to compare with (default: HEAD)")
    parser.add_argument("--rounds", type=int, default=3, help="processes per side (default: %(default)s)")
    parser.add_argument("--no-data", action="store_true", help="generated text even when the data is there")
    parser.add_argument("--long", action="store_true", help="the 5,000-character posts too (a minute a round)")
    parser.add_argument("--pure", action="store_true", help="both sides on the pure-Python path")
    args = parser.parse_args(argv)
    data = None if args.no_data or not compare.DEFAULT_DATA.is_dir() else compare.DEFAULT_DATA
    texts = compare.load_texts(compare.FULL, data)
    with tempfile.TemporaryDirectory(prefix="policy-ab-") as tmp:
        texts_file = Path(tmp) / "texts.json"
        names = [*SHORT, *LONG] if args.long else SHORT
        texts_file.write_text(json.dumps({name: texts.sets[name] for name in names}, ensure_ascii=False),
                              encoding="utf-8")
        base = Path(tmp) / "base"
        added = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base), args.rev],
                               capture_output=True, text=True, check=False)
        if added.returncode != 0:
            print(f"benchmarks.ab: cannot check out {args.rev!r}: {added.stderr.strip()}", file=sys.stderr)
            return 2
        try:
            if not args.pure and (base / "policy" / "_core.c").is_file():
                built = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=base,
                                       capture_output=True, text=True, check=False)
                if built.returncode != 0:
                    print(f"benchmarks.ab: cannot build the compiled core of {args.rev!r}:\n{built.stderr.strip()}",
                          file=sys.stderr)
                    return 2
            runs: dict[str, list[dict[str, float]]] = {"base": [], "work": []}
            for round_number in range(args.rounds):
                runs["base"].append(_run(base, texts_file, args.pure))
                runs["work"].append(_run(ROOT, texts_file, args.pure))
                print(f"round {round_number + 1}: base {runs['base'][-1]}, work {runs['work'][-1]}", file=sys.stderr)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)],
                           capture_output=True, check=False)
    paths = {side: runs[side][0]["path"] for side in runs}
    print(f"{texts.source} text, {args.rounds} rounds; µs per check, median of the rounds' best-of-7 means; "
          f"{args.rev}: {paths['base']}, working tree: {paths['work']}")
    print(f"| posts | {args.rev} | working tree | ratio |")
    print("|---|---|---|---|")
    for name in names:
        old = statistics.median(r[name] for r in runs["base"])
        new = statistics.median(r[name] for r in runs["work"])
        print(f"| {compare.SET_TITLES[name]} | {old:.1f} | {new:.1f} | {new / old:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
