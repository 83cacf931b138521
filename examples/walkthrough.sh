#!/usr/bin/env bash
# The whole path on the bundled convention: posts in, verdicts and sanctions out,
# one appeal filed and decided.  Run by `make run`; POLICY=path/to/policy to use
# the policy command of another environment.
set -euo pipefail
cd "$(dirname "$0")/.."
POLICY=${POLICY:-.venv/bin/policy}
export POLICY_DB=${POLICY_DB:-.run/ledger.db}
mkdir -p "$(dirname "$POLICY_DB")"
rm -f "$POLICY_DB" "$POLICY_DB-wal" "$POLICY_DB-shm"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "1. The pipeline checks every post and records verdicts, strikes and sanctions"
"$POLICY" scan examples/posts.jsonl --format human

say "2. Sanctions held for a human wait in the review queue"
"$POLICY" review list

say "3. User u900 was sanctioned three times; each strike raised the next sanction"
"$POLICY" history u900

say "4. u900 appeals the first verdict"
"$POLICY" appeals file --post p053 --user u900 --reason "我骂的是我自己的旧帖，不是别人"
"$POLICY" reviewer add 审核员小王

say "5. The reviewer looks the appeal up and sees exactly why the engine acted"
"$POLICY" appeals list --status open
"$POLICY" appeals show 1

say "6. The reviewer overturns it: the strike goes, and the later sanctions it raised are recomputed"
"$POLICY" appeals decide 1 overturn --reviewer 审核员小王 --reason "自嘲，不针对他人"

say "7. Every change is in the audit chain, and the chain verifies"
"$POLICY" audit log --tail 8
"$POLICY" audit verify
