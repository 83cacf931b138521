"""The ``policy`` command.

Exit codes (all commands): 0 success / nothing found; 1 findings (a post was
flagged by ``check``, ``lint`` found errors, ``test`` had failures, ``scan``
met bad input lines); 2 the command could not run (bad arguments, an unreadable
path, a policy with errors).  A user's mistake never prints a traceback.
"""

from __future__ import annotations

import argparse
import difflib
import io
import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from policy.cli import ledger as cli_ledger
from policy.cluster.shards import DEFAULT_SHARD_LINES, Shard, ShardError
from policy.cluster.shards import cut as cut_shards
from policy.compiler.build import Built, build
from policy.engine.pipeline import DEFAULT_MAX_CHARS, Engine
from policy.lang.diagnostics import Diagnostic, PolicyError, sort_key
from policy.lang.format import FormatError, format_source
from policy.lang.parse import parse
from policy.lang.sources import SourceError
from policy.model.lines import LineError, PostLine, post_lines
from policy.model.post import Post, PostError
from policy.store import LedgerError, SqlLedger, describe, is_server_url, open_ledger
from policy.tools.coverage import coverage
from policy.tools.examples import run_examples
from policy.tools.explain import UnknownRule, explain
from policy.tools.explain import render as render_explanation
from policy.tools.measure import DEFAULT_MAPPING, TAG, Report, Split, parse_mapping, resolve_targets
from policy.tools.measure import render as render_report
from policy.tools.render import render_verdict
from policy.tools.replay import replay
from policy.tools.scan import ScanTally, read_post, verdict_line

OK, FOUND, FAILED = 0, 1, 2
DEFAULT_SERVE_DB = ".run/ledger.db"
DEFAULT_BATCH = 200
"""Posts a recording scan writes per transaction: enough that the commit and the brake's counters
are paid once for many posts, few enough that a crash redoes little (benchmarks/scan_record.py)."""


class UsageError(Exception):
    """A command that cannot run; the message is shown as is."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="policy", description="Content-policy rule engine.")
    parser.add_argument("--version", action="version", version=_version_line())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def policy_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--policy", metavar="DIR", help="policy folder or file (default: the bundled convention)")
        p.add_argument("--cache", metavar="DIR", help="reuse the compiled policy from this folder")
        p.add_argument("--max-chars", type=int, default=DEFAULT_MAX_CHARS, metavar="N",
                       help=f"posts longer than this go to review unscanned (default {DEFAULT_MAX_CHARS:,})")

    p = sub.add_parser("check", help="check one post and explain the verdict")
    p.add_argument("text", help="the post's body")
    p.add_argument("--title", default=None, help="the post's title")
    p.add_argument("--format", choices=("human", "json"), default="human")
    policy_option(p)

    p = sub.add_parser("explain", help="why a rule fires on a post, or why not, step by step")
    p.add_argument("text", nargs="?", help="the post's body (or --post with --db)")
    p.add_argument("--rule", required=True, help="the rule to explain")
    p.add_argument("--title", default=None, help="the post's title")
    p.add_argument("--post", help="explain a post recorded in the ledger")
    p.add_argument("--db", default=os.environ.get("POLICY_DB"), metavar="LEDGER", help="the ledger for --post")
    p.add_argument("--format", choices=("human", "json"), default="human")
    policy_option(p)

    def cluster_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--cluster", metavar="ADDRESS",
                       help="run on Dask distributed: 'local' (a cluster of this machine's cores) or a "
                            "scheduler's address (tcp://host:8786); the files are read by the workers")
        p.add_argument("--shard-lines", type=int, default=DEFAULT_SHARD_LINES, metavar="N",
                       help="with --cluster: lines a task (default: %(default)s)")
        p.add_argument("--cluster-timeout", type=float, default=10.0, metavar="SECONDS",
                       help="with --cluster ADDRESS: how long to try to reach the scheduler (default: %(default)s)")

    p = sub.add_parser("replay", help="what a policy change would do: replay posts against old and new")
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="posts, one JSON object a line, in order (default: the posts in --db)")
    p.add_argument("--old", required=True, metavar="DIR", help="the policy as it is")
    p.add_argument("--new", required=True, metavar="DIR", help="the policy as it would be")
    p.add_argument("--db", default=os.environ.get("POLICY_DB"), metavar="LEDGER",
                   help="the ledger: its posts when no file is given, and its review outcomes for precision")
    p.add_argument("--samples", type=int, default=3, metavar="N", help="posts shown per changed rule")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="processes, or a local cluster's workers (default: every core)")
    p.add_argument("--cache", metavar="DIR", help="reuse compiled policies from this folder")
    p.add_argument("--progress", action="store_true", help="show progress even when stderr is not a terminal")
    p.add_argument("--format", choices=("human", "json"), default="human")
    cluster_options(p)

    p = sub.add_parser("scan", help="check JSON-lines files of posts; one verdict a line on stdout")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="posts, one JSON object a line, read in order ('-' for standard input)")
    p.add_argument("--format", choices=("json", "human"), default="json")
    p.add_argument("--summary", action="store_true", help="print a summary to stderr at the end")
    p.add_argument("--db", default=os.environ.get("POLICY_DB"), metavar="LEDGER",
                   help="record verdicts, strikes and sanctions in this ledger (default: $POLICY_DB); posts "
                        "already recorded under this policy version are skipped, so a re-run resumes")
    p.add_argument("--batch", type=int, default=DEFAULT_BATCH, metavar="N",
                   help="with --db: posts recorded per transaction (default: %(default)s)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="with --cluster local: its workers (default: every core)")
    cluster_options(p)
    policy_option(p)

    p = sub.add_parser("lint", help="check policy files and report every problem")
    p.add_argument("paths", nargs="*", help="policy folders or files (default: the bundled convention)")
    p.add_argument("--format", choices=("human", "json"), default="human")

    p = sub.add_parser("coverage", help="which clauses the rules enforce, with their example counts")
    p.add_argument("path", nargs="?", help="policy folder or file (default: the bundled convention)")
    p.add_argument("--min-examples", type=int, default=3, metavar="N",
                   help="fail when a rule has fewer than N violates or N allows examples (default 3; 0: never)")
    p.add_argument("--format", choices=("human", "json"), default="human")

    p = sub.add_parser("eval", help="measure the policy on labelled posts")
    p.add_argument("files", nargs="+", help="JSON-lines files of labelled posts")
    p.add_argument("--label-field", default="label", metavar="NAME", help="the key holding the label (default: label)")
    p.add_argument("--map", action="append", default=[], metavar="LABEL=CATEGORY[,…]",
                   help="the categories a label should be flagged in; LABEL=- marks harmless posts "
                        "(default: 1/true harmful in any category, 0/false harmless)")
    p.add_argument("--samples", type=int, default=5, metavar="N", help="misses and false alarms shown per group")
    p.add_argument("--holdout", type=float, metavar="SHARE",
                   help="hold back this share of the posts (0.3: 30%%) and report them apart, figures only")
    p.add_argument("--folds", type=int, metavar="K", help="split the posts into K folds and hold back --fold")
    p.add_argument("--fold", type=int, metavar="I", help="the fold held back (1..K)")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="the split's seed (default 0)")
    p.add_argument("--progress", action="store_true", help="show progress on stderr even when it is not a terminal")
    p.add_argument("--format", choices=("human", "json"), default="human")
    policy_option(p)

    p = sub.add_parser("fmt", help="format policy files in the one canonical layout")
    p.add_argument("paths", nargs="+", help="policy files or folders")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 2 when a file is not formatted (CI)")
    mode.add_argument("--diff", action="store_true", help="show what would change")
    mode.add_argument("-w", "--write", action="store_true", help="rewrite the files in place")

    p = sub.add_parser("serve", help="run the HTTP service (check, process, reviewer endpoints, /metrics)")
    p.add_argument("--policy", metavar="LEDGER", help="policy folder or file (default: the bundled convention)")
    p.add_argument("--cache", metavar="DIR", help="reuse the compiled policy from this folder")
    p.add_argument("--db", default=os.environ.get("POLICY_DB") or DEFAULT_SERVE_DB, metavar="LEDGER",
                   help=f"the ledger: a SQLite file or a postgresql:// URL (default: $POLICY_DB, else "
                        f"{DEFAULT_SERVE_DB})")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default: %(default)s)")
    p.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes (default: %(default)s)")

    p = sub.add_parser("test", help="run the examples inside every rule")
    p.add_argument("paths", nargs="*", help="policy folders or files (default: the bundled convention)")
    p.add_argument("--verbose", "-v", action="store_true", help="list passing examples too")

    cli_ledger.add_commands(sub, policy_option)
    return parser


def _version_line() -> str:
    """The package's version and the per-post path that runs (compiled core or pure Python)."""
    from importlib.metadata import PackageNotFoundError, version

    from policy.runtime.core import PATH

    try:
        number = version("policy-engine")
    except PackageNotFoundError:
        number = "(not installed)"
    return f"policy {number}, per-post path: {PATH}"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return FAILED
    out = sys.stdout
    try:
        command = {"check": cmd_check, "scan": cmd_scan, "lint": cmd_lint, "test": cmd_test,
                   "coverage": cmd_coverage, "eval": cmd_eval, "explain": cmd_explain,
                   "replay": cmd_replay, "fmt": cmd_fmt, "serve": cmd_serve}.get(args.command)
        if command is None:
            return cli_ledger.run(args, out, _engine)
        return command(args, out)
    except (UsageError, SourceError, PostError, LedgerError, UnknownRule) as error:
        print(f"policy {args.command}: error: {error}", file=sys.stderr)
        return FAILED
    except PolicyError as error:
        print(error.render(), file=sys.stderr)
        errors = sum(1 for d in error.diagnostics if d.is_error)
        print(f"\npolicy {args.command}: the policy has {errors} error(s); run `policy lint` for the list",
              file=sys.stderr)
        return FAILED
    except BrokenPipeError:
        return OK
    except KeyboardInterrupt:
        return 130


def _engine(args: argparse.Namespace) -> Engine:
    return Engine.load(args.policy, cache_dir=args.cache, max_chars=getattr(args, "max_chars", DEFAULT_MAX_CHARS))


# ---- check -------------------------------------------------------------------------------

def cmd_check(args: argparse.Namespace, out: TextIO) -> int:
    engine = _engine(args)
    fields = {"id": "cli", "body": args.text}
    if args.title is not None:
        fields["title"] = args.title
    post = Post.from_dict(fields)
    verdict = engine.check(post)
    if args.format == "json":
        print(verdict.to_json(indent=2), file=out)
    else:
        print(render_verdict(verdict, post), file=out)
    return OK if verdict.decision == "allow" else FOUND


def cmd_explain(args: argparse.Namespace, out: TextIO) -> int:
    engine = _engine(args)
    if args.post:
        if not args.db:
            raise UsageError("--post needs the ledger: pass --db LEDGER or set POLICY_DB")
        ledger = open_ledger(args.db)
        try:
            post = ledger.post(args.post)
        finally:
            ledger.close()
    elif args.text is not None:
        fields = {"id": "cli", "body": args.text}
        if args.title is not None:
            fields["title"] = args.title
        post = Post.from_dict(fields)
    else:
        raise UsageError("give the post's text, or --post ID with --db")
    explanation = explain(engine, args.rule, post)
    if args.format == "json":
        json.dump({"rule": args.rule, "fires": explanation.fired, "normalized": explanation.normalized,
                   "condition": explanation.root.as_dict()}, out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        print(render_explanation(explanation), file=out)
    return OK if not explanation.fired else FOUND


def cmd_replay(args: argparse.Namespace, out: TextIO) -> int:
    ledger = open_ledger(args.db) if args.db else None
    try:
        if args.cluster and not args.files:
            raise UsageError("--cluster replays files of posts (the workers open them); give them")
        if args.files:
            for name in args.files:
                if name != "-" and not Path(name).is_file():
                    raise UsageError(f"{name!r} is not a file")
            if "-" in args.files and (len(args.files) > 1 or args.cluster):
                raise UsageError("standard input ('-') is replayed alone, and not on a cluster")
            total = sum(_count_lines(name) for name in args.files if name != "-")
            stream = sys.stdin if args.files == ["-"] else _lines_of(args.files)
        elif ledger is not None:
            posts = ledger.posts()
            total, stream = len(posts), (json.dumps(p.to_dict(), ensure_ascii=False) for p in posts)
        else:
            raise UsageError("give a file of posts, or --db to replay the posts in the ledger")
        show = args.progress or sys.stderr.isatty()

        def progress(done: int) -> None:
            if show:
                print(f"\rreplay: {done:,}/{total:,} posts", end="", file=sys.stderr, flush=True)

        if args.cluster:
            from policy.cluster import run

            old, new = Engine.load(args.old, cache_dir=args.cache), Engine.load(args.new, cache_dir=args.cache)
            with _cluster(args) as client:
                report = run.replay(client, old.policy, new.policy, {}, _shards(args), args.samples, progress)
        else:
            report = replay(args.old, args.new, stream, samples=args.samples, workers=args.workers,
                            cache_dir=args.cache, progress=progress)
        if show:
            print(file=sys.stderr)
        if ledger is not None:
            for rule in sorted(set(report.gained) | set(report.lost)):
                report.precision[rule] = ledger.rule_outcomes(rule)
    finally:
        if ledger is not None:
            ledger.close()
    if args.format == "json":
        json.dump(report.as_dict(), out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        print(render_replay(report), file=out)
    return FOUND if report.changed else OK


def render_replay(report) -> str:
    lines = [f"replayed {report.posts:,} posts: old {report.old_version} → new {report.new_version}",
             f"decisions changed on {report.changed:,} post(s)"
             + (f"; {report.bad_lines} bad line(s) skipped" if report.bad_lines else "")]
    for (old, new), n in sorted(report.transitions.items()):
        if old != new:
            lines.append(f"  {old:>6} → {new:<6} {n:>8,}")
    changed = sorted(set(report.gained) | set(report.lost), key=lambda r: -(report.gained[r] + report.lost[r]))
    if changed:
        lines.append("")
        lines.append(f"{'rule':<40} {'old':>8} {'new':>8} {'gained':>8} {'lost':>8}  reviewers upheld")
        for rule in changed:
            outcome = report.precision.get(rule)
            upheld = (f"{outcome['precision'] * 100:.0f}% of {outcome['decided']}" if outcome and outcome["decided"]
                      else "no decisions yet" if outcome is not None else "(no ledger)")
            lines.append(f"{rule:<40} {report.rules_old[rule]:>8,} {report.rules_new[rule]:>8,} "
                         f"{report.gained[rule]:>8,} {report.lost[rule]:>8,}  {upheld}")
    categories = sorted(c for c in set(report.categories_old) | set(report.categories_new)
                        if report.categories_old[c] != report.categories_new[c])
    if categories:
        lines.append("")
        for category in categories:
            lines.append(f"category {category:<20} {report.categories_old[category]:>8,} → "
                         f"{report.categories_new[category]:,}")
    for key, items in sorted(report.samples.items()):
        lines.append("")
        lines.append(f"{'now fires' if key[0] == '+' else 'no longer fires'}: {key[1:]}")
        for change in items:
            lines.append(f"  {change.post_id}: {change.old} → {change.new}  {change.text[:70]}")
    return "\n".join(lines)


# ---- reading posts ----------------------------------------------------------------------------

def _posts(path_text: str) -> Iterator[PostLine]:
    """Each non-empty line of the file ('-': standard input) as :func:`post_lines` reads it."""
    if path_text == "-":
        raw = getattr(sys.stdin, "buffer", None)  # None: a text stream stands in for stdin (a test's)
        stream = sys.stdin if raw is None else io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline="")
        name = "<stdin>"
    else:
        path = Path(path_text)
        if not path.is_file():
            raise UsageError(f"{path_text!r} is not a file")
        stream, name = path.open(encoding="utf-8", errors="strict", newline=""), path_text
    try:
        yield from post_lines(stream, name)
    except LineError as error:
        raise UsageError(str(error)) from None
    finally:
        if path_text != "-":
            stream.close()


# ---- scan ----------------------------------------------------------------------------------

def cmd_scan(args: argparse.Namespace, out: TextIO) -> int:
    engine = _engine(args)
    ledger = open_ledger(args.db) if args.db else None
    try:
        return _scan(args, out, engine, ledger)
    finally:
        if ledger is not None:
            ledger.close()


def _scan(args: argparse.Namespace, out: TextIO, engine: Engine, ledger: SqlLedger | None) -> int:
    """Check (or, with a ledger, record) every post in order; a recording scan writes ``--batch``
    posts a transaction and skips the posts the ledger already holds under this policy version."""
    if args.batch < 1:
        raise UsageError("--batch must be at least 1")
    tally = ScanTally()
    pending: list[Post] = []

    def record() -> None:
        assert ledger is not None
        for post, done in zip(pending, ledger.process_batch(engine, pending), strict=True):
            tally.already += not done.recorded
            tally.count(done.verdict)
            print(verdict_line(done.verdict, post, args.format, done.json), file=out)
        pending.clear()

    if args.cluster:
        _scan_on_cluster(args, out, engine, ledger, tally)
    for line in () if args.cluster else (line for name in args.files for line in _posts(name)):
        post, message = read_post(line)
        if post is None:
            tally.bad += 1
            print(message, file=sys.stderr)
            continue
        if ledger is None:
            verdict = engine.check(post)
            tally.count(verdict)
            print(verdict_line(verdict, post, args.format), file=out)
            continue
        pending.append(post)
        if len(pending) >= args.batch:
            record()
    if pending:
        record()
    if args.summary or args.format == "human" or tally.already:
        target = out if args.format == "human" else sys.stderr
        print("\n" + "\n".join(tally.summary()), file=target)
    return FOUND if tally.bad else OK


def _scan_on_cluster(args: argparse.Namespace, out: TextIO, engine: Engine, ledger: SqlLedger | None,
                     tally: ScanTally) -> None:
    """``policy scan --cluster``: the same lines and tally, checked by the cluster's workers."""
    if ledger is not None:
        raise UsageError("--cluster checks without recording: a ledger has one writer; record with "
                         "'policy scan --db' (batched, and a re-run resumes)")
    if "-" in args.files:
        raise UsageError("--cluster reads files (the workers open them), not standard input")
    for name in args.files:
        if not Path(name).is_file():
            raise UsageError(f"{name!r} is not a file")
    from policy.cluster import run

    with _cluster(args) as client:
        for part in run.scan(client, engine.policy, _engine_options(args), _shards(args), args.format):
            for message in part.messages:
                print(message, file=sys.stderr)
            for line in part.lines:
                print(line, file=out)
            tally.merge(part.tally)


def _engine_options(args: argparse.Namespace) -> dict:
    return {"max_chars": args.max_chars} if getattr(args, "max_chars", None) is not None else {}


def _shards(args: argparse.Namespace) -> Iterator[Shard]:
    try:
        yield from cut_shards(args.files, args.shard_lines)
    except ShardError as error:
        raise UsageError(str(error)) from None


@contextmanager
def _cluster(args: argparse.Namespace) -> Iterator[Any]:
    from policy.cluster import run

    if args.shard_lines < 1:
        raise UsageError("--shard-lines must be at least 1")
    try:
        with run.connect(args.cluster, args.workers, timeout=args.cluster_timeout) as client:
            try:
                yield client
            except LineError as error:
                raise UsageError(str(error)) from None
    except run.ClusterError as error:
        raise UsageError(str(error)) from None


# ---- lint and test -------------------------------------------------------------------------

def _build_all(paths: list[str]) -> list[Built]:
    return [build(p) for p in (paths or [None])]  # type: ignore[list-item]


def cmd_lint(args: argparse.Namespace, out: TextIO) -> int:
    builds = _build_all(args.paths)
    diagnostics: list[Diagnostic] = sorted((d for b in builds for d in b.diagnostics), key=sort_key)
    texts = {path: text for b in builds for path, text in b.texts.items()}
    errors = sum(1 for d in diagnostics if d.is_error)
    warnings = len(diagnostics) - errors
    if args.format == "json":
        json.dump({"errors": errors, "warnings": warnings, "diagnostics": [d.as_dict() for d in diagnostics]},
                  out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        for d in diagnostics:
            print(d.render(texts.get(d.span.path)) + "\n", file=out)
        rules = sum(len(b.compiled.rules) for b in builds if b.compiled)
        files = sum(len(b.files) for b in builds)
        print(f"{files} file(s), {rules} rule(s): {errors} error(s), {warnings} warning(s)", file=out)
    return FOUND if errors else OK


def cmd_coverage(args: argparse.Namespace, out: TextIO) -> int:
    built = build(args.path)
    if built.compiled is None:
        raise PolicyError(built.diagnostics, built.texts)
    items = coverage(built.compiled)
    minimum = args.min_examples
    thin = sorted({(r.rule, r.violates, r.allows) for c in items for r in c.rules
                   if r.violates < minimum or r.allows < minimum})
    missing = [c for c in items if not c.rules]
    if args.format == "json":
        json.dump({"clauses": [{"clause": c.clause, "text": c.text,
                                "rules": [{"rule": r.rule, "violates": r.violates, "allows": r.allows}
                                          for r in c.rules]} for c in items],
                   "uncovered": [c.clause for c in missing],
                   "thin_rules": [rule for rule, _, _ in thin]}, out, ensure_ascii=False, indent=2)
        out.write("\n")
    else:
        for c in items:
            print(f"{c.clause:<8} {_clip(c.text, 60)}", file=out)
            for r in c.rules:
                print(f"           {r.rule:<40} {r.violates:3d} violates {r.allows:3d} allows", file=out)
            if not c.rules:
                print("           NOT COVERED: no rule cites this clause", file=out)
        for rule, violates, allows in thin:
            print(f"rule {rule} has {violates} violates and {allows} allows examples; "
                  f"at least {minimum} of each are required", file=out)
        print(f"{len(items) - len(missing)} of {len(items)} clauses covered; "
              f"{len(thin)} rule(s) with too few examples", file=out)
    return FOUND if missing or thin else OK


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def cmd_eval(args: argparse.Namespace, out: TextIO) -> int:
    try:
        mapping = parse_mapping(args.map) if args.map else dict(DEFAULT_MAPPING)
        split = Split(args.seed, args.holdout, args.folds, args.fold) \
            if args.holdout is not None or args.folds is not None or args.fold is not None else None
    except ValueError as error:
        raise UsageError(str(error)) from None
    engine = _engine(args)
    policy = engine.policy
    try:
        mapping = resolve_targets(mapping, policy.categories, {t for r in policy.rules for t in r.tags})
    except ValueError as error:
        raise UsageError(str(error)) from None
    rule_targets = {r.id: frozenset(TAG + t for t in r.tags) for r in policy.rules}
    mapped = frozenset(t for targets in mapping.values() for t in targets)
    for file in args.files:
        if file != "-" and not Path(file).is_file():
            raise UsageError(f"{file!r} is not a file")
    total = sum(_count_lines(f) for f in args.files if f != "-")
    show = args.progress or sys.stderr.isatty()
    report = Report(rule_targets, mapped, samples=args.samples)
    held = Report(rule_targets, mapped, samples=0) if split is not None else None
    bad = 0
    unmapped: Counter[str] = Counter()
    seen = 0
    for name, number, data, problem in (item for f in args.files for item in _posts(f)):
        seen += 1
        if show and seen % 500 == 0:
            print(f"\reval: {seen}/{total} posts", end="", file=sys.stderr, flush=True)
        try:
            if problem:
                raise PostError(problem)
            if not isinstance(data, dict) or args.label_field not in data:
                raise PostError(f"no '{args.label_field}' label")
            label = data[args.label_field]
            label = str(label).lower() if isinstance(label, bool) else str(label)
            post = Post.from_dict(data)
        except PostError as error:
            bad += 1
            if bad <= 20:
                print(f"{name}:{number}: skipped: {error}", file=sys.stderr)
            continue
        if label not in mapping:
            unmapped[label] += 1
            continue
        part = held if held is not None and split is not None and split.held_back(post.id) else report
        part.add(label, mapping[label], engine.check(post), post.text("title") + " " + post.text("body"))
    if show:
        print(f"\reval: {seen}/{total} posts", file=sys.stderr)
    if unmapped:
        print("labels with no --map entry were skipped: "
              + ", ".join(f"{label!r} ({n})" for label, n in unmapped.most_common()), file=sys.stderr)
    if args.format == "json":
        result = report.as_dict() if held is None or split is None else {
            "split": split.as_dict(), "tune": report.as_dict(), "held_back": held.as_dict()}
        json.dump(result, out, ensure_ascii=False, indent=2)
        out.write("\n")
    elif held is None or split is None:
        print(render_report(report, mapping), file=out)
    else:
        print(f"== the part to tune on ({split.describe()}: these are the other posts) ==", file=out)
        print(render_report(report, mapping), file=out)
        print(f"\n== the held-back part ({split.describe()}): figures only, so that nothing is tuned to its "
              "posts ==", file=out)
        print(render_report(held, mapping, samples=False), file=out)
    if bad:
        print(f"{bad} bad line(s) skipped", file=sys.stderr)
    return FOUND if bad else OK


def _lines_of(paths: list[str]) -> Iterator[str]:
    """The lines of every file in turn, as ``policy replay`` reads them (undecodable bytes replaced)."""
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            yield from f


def _count_lines(path: str) -> int:
    with open(path, "rb") as f:
        return sum(1 for line in f if line.strip())


def cmd_fmt(args: argparse.Namespace, out: TextIO) -> int:
    """Exit 0 when nothing is wrong; 2 when --check finds a file to reformat or a file has errors."""
    files: list[Path] = []
    for name in args.paths:
        path = Path(name)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.policy") if p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"{name!r} does not exist")
    changed = failed = 0
    for path in files:
        try:
            text = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            print(f"policy fmt: {path}: cannot read: {error}", file=sys.stderr)
            failed += 1
            continue
        try:
            formatted = format_source(text)
        except FormatError:
            for d in parse(text, str(path))[1]:
                if d.is_error:
                    print(d.render(text) + "\n", file=sys.stderr)
            print(f"policy fmt: {path}: not formatted: it has errors", file=sys.stderr)
            failed += 1
            continue
        if formatted == text:
            if not (args.check or args.diff or args.write):
                out.write(formatted)
            continue
        changed += 1
        if args.check:
            print(f"would reformat {path}", file=out)
        elif args.diff:
            out.writelines(difflib.unified_diff(text.splitlines(keepends=True), formatted.splitlines(keepends=True),
                                                f"{path}", f"{path} (formatted)"))
        elif args.write:
            tmp = path.with_name(f".{path.name}.fmt")
            tmp.write_text(formatted, encoding="utf-8")
            os.replace(tmp, path)  # all or nothing: never a half-written rule file
            print(f"reformatted {path}", file=out)
        else:
            out.write(formatted)
    if args.check or args.write or args.diff:
        verb = "would change" if args.check else "changed" if args.write else "differ"
        print(f"{len(files)} file(s), {changed} {verb}" + (f", {failed} with errors" if failed else ""),
              file=sys.stderr)
    if failed:
        return FAILED
    return FAILED if args.check and changed else OK


def cmd_test(args: argparse.Namespace, out: TextIO) -> int:
    failed = 0
    total = 0
    for path in args.paths or [None]:
        built = build(path)
        if built.compiled is None:
            raise PolicyError(built.diagnostics, built.texts)
        results = run_examples(Engine(built.compiled))
        total += len(results)
        for result in results:
            if not result.passed:
                failed += 1
                print("FAIL " + result.describe() + "\n", file=out)
            elif args.verbose:
                print(f"ok   {result.location}: {result.rule} {'flags' if result.violates else 'allows'}", file=out)
        rules = {r.rule for r in results}
        print(f"{path or 'bundled convention'}: {len(results)} examples in {len(rules)} rules", file=out)
    print(f"{total - failed} passed, {failed} failed", file=out)
    return FOUND if failed else OK


# ---- serve -------------------------------------------------------------------------------

def cmd_serve(args: argparse.Namespace, out: TextIO) -> int:
    """Check the policy and open the ledger here, so that a mistake is one clear message, then
    hand over to uvicorn; each worker builds the app from the environment set below."""
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    if not 0 < args.port < 65536:
        raise UsageError(f"--port must be between 1 and 65535, not {args.port}")
    engine = Engine.load(args.policy, cache_dir=args.cache)
    if not is_server_url(args.db):
        Path(args.db).parent.mkdir(parents=True, exist_ok=True)
    open_ledger(args.db).close()
    os.environ["POLICY_SERVE_POLICY"] = args.policy or ""
    os.environ["POLICY_SERVE_CACHE"] = args.cache or ""
    os.environ["POLICY_DB"] = args.db
    print(f"policy serve: {engine.policy.name} {engine.version}, ledger {describe(args.db)}, "
          f"http://{args.host}:{args.port}/ ({args.workers} worker(s))", file=sys.stderr)
    from policy.service.workers import ServeError, serve  # only this command needs the server

    try:
        serve(args.host, args.port, args.workers)
    except ServeError as error:
        raise UsageError(str(error)) from None
    return OK


if __name__ == "__main__":
    sys.exit(main())
