"""The reviewer's commands: reports, the review queue, appeals, a user's history, the audit chain.

Every command takes ``--db PATH`` (or the ``POLICY_DB`` environment variable).
Commands that decide take ``--reviewer NAME``; the reviewer must have been added
with ``policy reviewer add NAME``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TextIO

from policy.engine.pipeline import Engine
from policy.model.verdict import Verdict
from policy.store import LedgerError, SqlLedger, open_ledger
from policy.store.ledger import time_arg as _time
from policy.text.normalize import DEFAULT_PROFILE, normalize, table_for
from policy.tools.render import render_sanction, render_verdict, rule_source

OK, FOUND = 0, 1


def add_commands(sub, policy_option) -> None:
    def db_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", default=os.environ.get("POLICY_DB"), metavar="LEDGER",
                       help="the ledger: a SQLite file or a postgresql:// URL (default: $POLICY_DB)")

    p = sub.add_parser("reviewer", help="register a reviewer")
    p.add_argument("action", choices=("add",))
    p.add_argument("name")
    db_option(p)

    p = sub.add_parser("user", help="reviewer accounts for the web console and the reviewer endpoints: add, "
                                    "disable, list")
    p.add_argument("action", choices=("add", "disable", "list"))
    p.add_argument("name", nargs="?")
    p.add_argument("--role", choices=("reviewer", "senior", "admin"), default="reviewer",
                   help="reviewer: cases and appeals; senior: also permanent sanctions, protected accounts, brake "
                        "reset, revert; admin: also accounts and policy reload")
    p.add_argument("--password-stdin", action="store_true", help="read the password from stdin (else: asked twice)")
    db_option(p)

    p = sub.add_parser("key", help="API keys for clients of `policy serve`: add (prints the key once), revoke, list")
    p.add_argument("action", choices=("add", "revoke", "list"))
    p.add_argument("name", nargs="?")
    p.add_argument("--role", choices=("pipeline", "admin"), default="pipeline",
                   help="add: pipeline (check, process, reports, appeals) or admin (also policy reload)")
    db_option(p)

    p = sub.add_parser("report", help="file a user's report against a post in the ledger")
    p.add_argument("post_id")
    p.add_argument("--reporter", required=True)
    p.add_argument("--reason", required=True)
    db_option(p)

    p = sub.add_parser("review", help="the queue of sanctions and reports waiting for a human")
    p.add_argument("action", choices=("list", "show", "decide"))
    p.add_argument("case", nargs="?", help="a case id from `review list`: S<sanction> or R<post>")
    p.add_argument("decision", nargs="?", choices=("approve", "reject", "change", "dismiss", "sanction"))
    p.add_argument("--reviewer")
    p.add_argument("--reason")
    p.add_argument("--step", help="the ladder step for change / sanction")
    p.add_argument("--format", choices=("human", "json"), default="human")
    db_option(p)
    policy_option(p)

    p = sub.add_parser("appeals", help="file, find, show and decide appeals")
    p.add_argument("action", choices=("file", "list", "show", "decide"))
    p.add_argument("target", nargs="?", help="file: a verdict id; show/decide: an appeal id")
    p.add_argument("outcome", nargs="?", choices=("uphold", "overturn", "modify"))
    p.add_argument("--post", help="file: appeal the latest verdict of this post; list: only this post")
    p.add_argument("--verdict", help="list: only appeals of this verdict")
    p.add_argument("--user")
    p.add_argument("--rule")
    p.add_argument("--since", help="list: filed at or after this time (ISO 8601, e.g. 2026-11-01)")
    p.add_argument("--status", choices=("open", "decided"))
    p.add_argument("--reason")
    p.add_argument("--reviewer")
    p.add_argument("--step", help="modify: the ladder step to move the sanction to")
    p.add_argument("--format", choices=("human", "json"), default="human")
    db_option(p)
    policy_option(p)

    p = sub.add_parser("history", help="a user's standing: strikes, sanctions, appeals, verdicts")
    p.add_argument("user")
    p.add_argument("--format", choices=("human", "json"), default="human")
    db_option(p)

    p = sub.add_parser("verdict", help="show a recorded verdict by id, or the verdicts of a post")
    p.add_argument("verdict_id", nargs="?")
    p.add_argument("--post")
    p.add_argument("--format", choices=("human", "json"), default="human")
    db_option(p)

    p = sub.add_parser("status", help="the emergency brake: tripped rules and the rules it watches")
    p.add_argument("--format", choices=("human", "json"), default="human")
    db_option(p)

    p = sub.add_parser("brake", help="reset a tripped brake (accept the rule as it now stands)")
    p.add_argument("action", choices=("reset",))
    p.add_argument("rule")
    p.add_argument("--reviewer", required=True)
    p.add_argument("--reason", required=True)
    db_option(p)

    p = sub.add_parser("revert", help="reverse every sanction a rule produced in a time window")
    p.add_argument("--rule", required=True)
    p.add_argument("--since", required=True, help="ISO 8601 time, e.g. 2026-11-01 or 2026-11-01T08:00:00Z")
    p.add_argument("--until", help="ISO 8601 time (exclusive)")
    p.add_argument("--version", help="only sanctions decided by this policy version (sha256:…)")
    p.add_argument("--dry-run", action="store_true", help="list what would be undone; change nothing")
    p.add_argument("--reviewer")
    p.add_argument("--reason")
    db_option(p)
    policy_option(p)

    p = sub.add_parser("audit", help="verify or print the audit chain")
    p.add_argument("action", choices=("verify", "log"))
    p.add_argument("--tail", type=int, default=20, metavar="N", help="log: the last N rows")
    db_option(p)


def ledger_of(args: argparse.Namespace) -> SqlLedger:
    if not args.db:
        raise LedgerError("no ledger given: pass --db LEDGER or set POLICY_DB")
    return open_ledger(args.db)


def _need(args: argparse.Namespace, *names: str) -> None:
    missing = [f"--{n}" for n in names if not getattr(args, n)]
    if missing:
        raise LedgerError(f"policy {args.command} {args.action} needs {' and '.join(missing)}")


def run(args: argparse.Namespace, out: TextIO, load_engine) -> int:
    ledger = ledger_of(args)
    try:
        handler = {"reviewer": cmd_reviewer, "user": cmd_user, "key": cmd_key, "report": cmd_report,
                   "review": cmd_review, "appeals": cmd_appeals, "history": cmd_history, "verdict": cmd_verdict,
                   "audit": cmd_audit, "status": cmd_status, "brake": cmd_brake, "revert": cmd_revert}[args.command]
        return handler(args, out, ledger, load_engine)
    finally:
        ledger.close()


def cmd_reviewer(args, out, ledger, load_engine) -> int:
    ledger.add_reviewer(args.name)
    print(f"reviewer {args.name} added", file=out)
    return OK


def cmd_user(args, out, ledger, load_engine) -> int:
    if args.action == "list":
        for account in ledger.accounts():
            state = f"disabled {account['disabled_at']}" if account["disabled_at"] else "enabled"
            print(f"{account['name']:<20} {account['role']:<9} added {account['created_at']}  {state}", file=out)
        return OK
    if not args.name:
        raise LedgerError(f"policy user {args.action} needs an account name")
    if args.action == "disable":
        ledger.disable_account(args.name)
        print(f"account {args.name} disabled", file=out)
        return OK
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        import getpass

        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise LedgerError("the two passwords differ")
    ledger.add_account(args.name, args.role, password)
    print(f"account {args.name} ({args.role}) added", file=out)
    return OK


def cmd_key(args, out, ledger, load_engine) -> int:
    if args.action == "list":
        for key in ledger.api_keys():
            state = f"revoked {key['revoked_at']}" if key["revoked_at"] else "in use"
            print(f"{key['name']:<20} {key['role']:<9} added {key['created_at']}  {state}", file=out)
        return OK
    if not args.name:
        raise LedgerError(f"policy key {args.action} needs a key name")
    if args.action == "revoke":
        ledger.revoke_api_key(args.name)
        print(f"API key {args.name} revoked", file=out)
        return OK
    token = ledger.add_api_key(args.name, args.role)
    print(token, file=out)
    print(f"API key {args.name} ({args.role}) added; the key is shown this once: keep it with the client",
          file=sys.stderr)
    return OK


def cmd_report(args, out, ledger, load_engine) -> int:
    report_id = ledger.report(args.post_id, args.reporter, args.reason)
    print(f"report {report_id} filed on post {args.post_id}", file=out)
    return OK


# ---- review queue -------------------------------------------------------------------------------

def cmd_review(args, out, ledger: SqlLedger, load_engine) -> int:
    if args.action == "list":
        cases = ledger.queue()
        if args.format == "json":
            json.dump(cases, out, ensure_ascii=False, indent=2)
            out.write("\n")
            return OK
        for c in cases:
            approvals = f", approved by {', '.join(c['approvals'])}" if c["approvals"] else ""
            print(f"{c['case']:<8} {c['kind']:<8} post {c['post_id']:<10} user {c['user']}  "
                  f"{c['step'] or '-'} ({c['rule'] or 'no rule'}); {'; '.join(c['holds'])}; "
                  f"needs {c['reviewers_needed']}{approvals}; {c['reports']} report(s)", file=out)
        print(f"{len(cases)} case(s) waiting", file=out)
        return OK
    if not args.case:
        raise LedgerError(f"policy review {args.action} needs a case id (see `policy review list`)")
    kind, ident = args.case[:1].upper(), args.case[1:]
    if args.action == "show":
        post_id = ledger.sanction(_int(ident)).post_id if kind == "S" else ident
        _show_post(out, ledger, post_id)
        for report in ledger.reports(post_id):
            print(f"  report {report['report_id']} by {report['reporter']} at {report['at']}: {report['reason']} "
                  f"({report['status']})", file=out)
        return OK
    _need(args, "reviewer", "reason")
    engine = load_engine(args)
    if kind == "S":
        if args.decision not in ("approve", "reject", "change"):
            raise LedgerError("a held sanction is decided with approve, reject or change")
        row = ledger.decide_sanction(engine, _int(ident), args.reviewer, args.decision, args.reason, args.step)
        print(f"sanction {row.sanction_id}: {row.step}, {row.status}", file=out)
    elif kind == "R":
        if args.decision not in ("dismiss", "sanction"):
            raise LedgerError("a reported post is decided with dismiss or sanction --step STEP")
        row = ledger.decide_report(engine, ident, args.reviewer, args.decision, args.reason, args.step)
        print(f"reports on {ident} dismissed" if row is None else f"sanction {row.sanction_id}: {row.step}, "
              f"{row.status}", file=out)
    else:
        raise LedgerError(f"unknown case {args.case!r}: case ids start with S (sanction) or R (report)")
    return OK


def _int(text: str) -> int:
    if not text.isdigit():
        raise LedgerError(f"{text!r} is not a number")
    return int(text)


def _show_post(out: TextIO, ledger: SqlLedger, post_id: str) -> Verdict | None:
    post = ledger.post(post_id)
    verdicts = ledger.verdicts(post_id=post_id)
    if not verdicts:
        print(f"post {post_id}: no verdict recorded", file=out)
        return None
    verdict = Verdict.from_dict(verdicts[-1])
    print(render_verdict(verdict, post), file=out)
    print(f"  normalized body: {normalize(post.text('body'), table_for(DEFAULT_PROFILE))}", file=out)
    return verdict


# ---- appeals ----------------------------------------------------------------------------------------

def cmd_appeals(args, out, ledger: SqlLedger, load_engine) -> int:
    if args.action == "file":
        verdict_id = args.target
        if verdict_id is None and args.post:
            verdicts = ledger.verdicts(post_id=args.post)
            if not verdicts:
                raise LedgerError(f"no verdict for post {args.post!r} in the ledger")
            verdict_id = verdicts[-1]["verdict_id"]
        if verdict_id is None:
            raise LedgerError("policy appeals file needs a verdict id or --post POST")
        _need(args, "reason")
        appeal_id = ledger.appeal(verdict_id, args.reason, user=args.user)
        print(f"appeal {appeal_id} filed against verdict {verdict_id}", file=out)
        return OK
    if args.action == "list":
        rows = ledger.appeals(status=args.status, user=args.user, rule=args.rule, since=args.since,
                              verdict_id=args.verdict, post_id=args.post)
        if args.format == "json":
            json.dump([r.__dict__ for r in rows], out, ensure_ascii=False, indent=2)
            out.write("\n")
            return OK
        for r in rows:
            verdict = ledger.verdict(r.verdict_id)
            rules = ", ".join(v["rule"] for v in verdict["violations"]) or "no rule"
            outcome = f"{r.outcome} by {r.reviewer}" if r.outcome else "open"
            print(f"appeal {r.appeal_id:<4} {r.filed_at[:19]}  user {r.user_id}  post {verdict['post_id']}  "
                  f"{rules}  [{outcome}]  “{r.reason}”", file=out)
        print(f"{len(rows)} appeal(s)", file=out)
        return OK
    if args.target is None:
        raise LedgerError(f"policy appeals {args.action} needs an appeal id")
    appeal = ledger.appeal_row(_int(args.target))
    if args.action == "show":
        return _show_appeal(out, ledger, appeal, load_engine(args))
    if args.outcome is None:
        raise LedgerError("policy appeals decide ID needs uphold, overturn or modify")
    _need(args, "reviewer", "reason")
    decided = ledger.decide_appeal(load_engine(args), appeal.appeal_id, args.outcome, args.reviewer, args.reason,
                                   args.step)
    print(f"appeal {decided.appeal_id}: {decided.outcome} by {decided.reviewer}", file=out)
    if decided.user_id:
        _print_standing(out, ledger, decided.user_id)
    return OK


def _show_appeal(out: TextIO, ledger: SqlLedger, appeal, engine: Engine) -> int:
    print(f"appeal {appeal.appeal_id} by user {appeal.user_id}, filed {appeal.filed_at}: “{appeal.reason}”", file=out)
    print(f"status {appeal.status}" + (f", {appeal.outcome} by {appeal.reviewer}: {appeal.decision_reason}"
                                        if appeal.outcome else ""), file=out)
    stored = ledger.verdict(appeal.verdict_id)
    print(f"verdict {appeal.verdict_id} of post {stored['post_id']} at {stored['checked_at']}\n", file=out)
    verdict = Verdict.from_dict(stored)
    post = ledger.post(stored["post_id"])
    print(render_verdict(verdict, post), file=out)
    print(f"  normalized body: {normalize(post.text('body'), table_for(DEFAULT_PROFILE))}", file=out)
    sources = ledger.policy_sources(verdict.policy_version)
    for v in verdict.violations:
        text = rule_source(sources, v.source[0], v.source[1])
        if text:
            print(f"\n  rule {v.rule} as it stood in policy {verdict.policy_version} "
                  f"({v.source[0]}:{v.source[1]}):", file=out)
            for line in text.split("\n"):
                print(f"    | {line}", file=out)
    for s in ledger.sanctions(verdict_id=verdict.verdict_id):
        print("", file=out)
        print(f"  sanction {s.sanction_id} now {s.status}" + (f" (replaces {s.replaces})" if s.replaces else ""),
              file=out)
        for line in render_sanction(s.detail)[1:]:
            print(line, file=out)
    now = engine.check(post)
    still = [v.rule for v in now.violations]
    print(f"\n  the current policy ({engine.version}) would "
          + (f"still flag it: {', '.join(still)} ({now.decision})" if still else "no longer flag it"), file=out)
    if appeal.user_id:
        print("", file=out)
        _print_standing(out, ledger, appeal.user_id)
    return OK


# ---- history, verdicts, audit ------------------------------------------------------------------------

def _print_standing(out: TextIO, ledger: SqlLedger, user: str) -> None:
    standing = ledger.standing(user)
    in_force = ", ".join(f"{step} (sanction {sid})" for sid, step in standing["sanctions_in_force"]) or "none"
    print(f"user {user}: {standing['active_strikes']} active strike(s); sanctions in force: {in_force}", file=out)
    for strike in ledger.strikes(user):
        print(f"  strike  post {strike['post_id']:<10} {strike['rule']:<32} {strike['at'][:19]}  {strike['status']}",
              file=out)
    for s in ledger.sanctions(user=user):
        print(f"  sanction {s.sanction_id:<4} post {s.post_id:<10} {s.step:<16} {s.starts_at[:19]}  {s.status}"
              + (f" (replaces {s.replaces})" if s.replaces else ""), file=out)


def cmd_history(args, out, ledger: SqlLedger, load_engine) -> int:
    if args.format == "json":
        json.dump({"standing": ledger.standing(args.user), "strikes": ledger.strikes(args.user),
                   "sanctions": [dict(s.__dict__, detail=s.detail.to_dict()) for s in ledger.sanctions(user=args.user)],
                   "appeals": [a.__dict__ for a in ledger.appeals(user=args.user)],
                   "verdicts": [v["verdict_id"] for v in ledger.verdicts(user=args.user)]},
                  out, ensure_ascii=False, indent=2)
        out.write("\n")
        return OK
    _print_standing(out, ledger, args.user)
    for a in ledger.appeals(user=args.user):
        outcome = f" ({a.outcome})" if a.outcome else ""
        print(f"  appeal  {a.appeal_id:<4} verdict {a.verdict_id}  {a.status}{outcome}", file=out)
    return OK


def cmd_verdict(args, out, ledger: SqlLedger, load_engine) -> int:
    if args.verdict_id:
        found = [ledger.verdict(args.verdict_id)]
    elif args.post:
        found = ledger.verdicts(post_id=args.post)
        if not found:
            raise LedgerError(f"no verdict for post {args.post!r} in the ledger")
    else:
        raise LedgerError("policy verdict needs a verdict id or --post POST")
    for data in found:
        if args.format == "json":
            print(json.dumps(data, ensure_ascii=False), file=out)
        else:
            verdict = Verdict.from_dict(data)
            print(f"verdict {verdict.verdict_id} at {verdict.checked_at}", file=out)
            print(render_verdict(verdict, ledger.post(verdict.post_id)) + "\n", file=out)
    return OK


def cmd_status(args, out, ledger: SqlLedger, load_engine) -> int:
    status = ledger.brake_status()
    if args.format == "json":
        json.dump(status, out, ensure_ascii=False, indent=2)
        out.write("\n")
        return FOUND if status["tripped"] else OK
    if status["tripped"]:
        for b in status["tripped"]:
            share = 100.0 * b["matched"] / b["checked"] if b["checked"] else 0.0
            print(f"BRAKE TRIPPED on rule {b['rule']} at {b['tripped_at']}: {b['matched']} of {b['checked']} posts "
                  f"({share:.1f}%) since it changed; its sanctions are held for review", file=out)
        print("  a reviewer resets it with `policy brake reset RULE --reviewer NAME --reason TEXT`", file=out)
    else:
        print("no brake tripped", file=out)
    for r in status["rules"][:15]:
        share = 100.0 * r["matched"] / r["checked"] if r["checked"] else 0.0
        print(f"  watching {r['rule']:<40} changed {r['first_seen'][:19]}  {r['matched']:>6} of {r['checked']:>7} "
              f"({share:5.1f}%)  {r['status']}", file=out)
    for b in status["history"]:
        if b["status"] == "reset":
            print(f"  reset    {b['rule']:<40} by {b['reset_by']} at {b['reset_at'][:19]}: {b['reset_reason']}",
                  file=out)
    return FOUND if status["tripped"] else OK


def cmd_brake(args, out, ledger: SqlLedger, load_engine) -> int:
    ledger.reset_brake(args.rule, args.reviewer, args.reason)
    print(f"brake on rule {args.rule} reset by {args.reviewer}; the rule as it stands is no longer watched", file=out)
    return OK


def cmd_revert(args, out, ledger: SqlLedger, load_engine) -> int:
    since, until = _time(args.since), _time(args.until) if args.until else None
    if not args.dry_run:
        _need(args, "reviewer", "reason")
    engine = load_engine(args)
    done = ledger.revert(engine, args.rule, since, until, args.version, args.reviewer or "", args.reason or "",
                         dry_run=args.dry_run)
    verb = "would undo" if args.dry_run else "undid"
    for s in done:
        print(f"  {verb} sanction {s.sanction_id:<5} user {s.user_id:<12} post {s.post_id:<12} {s.step:<16} "
              f"{s.starts_at[:19]}", file=out)
    users = sorted({s.user_id for s in done})
    print(f"{verb} {len(done)} sanction(s) of rule {args.rule} for {len(users)} user(s)", file=out)
    if not args.dry_run:
        for user in users:
            _print_standing(out, ledger, user)
    return OK


def cmd_audit(args, out, ledger: SqlLedger, load_engine) -> int:
    if args.action == "log":
        for row in ledger.audit_rows()[-args.tail:]:
            print(f"{row['seq']:>6} {row['at'][:19]} {row['actor']:<12} {row['action']:<20} {row['subject']:<30} "
                  f"{row['payload']}", file=out)
        return OK
    result = ledger.verify_audit()
    if result.ok:
        print(f"audit chain verifies: {result.rows} row(s)", file=out)
        return OK
    if result.bad_seq is None:  # the chain holds, the state rows do not match it
        print(f"ledger state does NOT match the audit chain ({result.rows} row(s) verify); "
              f"{len(result.tampered)} row(s) changed outside the ledger:", file=out)
        for problem in result.tampered:
            print(f"  {problem}", file=out)
        return FOUND
    print(f"audit chain BROKEN at row {result.bad_seq}: {result.problem} ({result.rows} row(s) read)", file=out)
    return FOUND
