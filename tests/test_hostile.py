"""Hostile posts: whatever the internet sends, the engine gives a verdict or a clear error.

Each post below is something a comment box can receive.  The engine must answer with a verdict
(never an exception), the verdict must serialize, and the limits that keep a check bounded
(``max_chars`` before any work, a regex budget per post, evidence kept per violation) must hold.
How long the worst of these takes is measured in ``benchmarks/worst_case.py``, not here.
"""

from __future__ import annotations

import json

import pytest

from policy import Engine, Post
from policy.cli import main

from .conftest import write_policy

BUNDLED = Engine.load()

N = 50_000

HOSTILE = {
    "empty": "",
    "whitespace only": " \t\n\u3000\u00a0" * 100,
    "one megabyte": "好" * 1_000_000,
    "lone surrogates inside a word": "你是傻\udfff逼\ud800",
    "only lone surrogates": "\ud800\udc00\udfff" * 1000,
    "control characters": "\x00\x01\x07\x1b[31m傻\x08逼\x7f" * 100,
    "right-to-left override": "\u202e逼傻\u202c 你是\u202e傻逼\u202c",
    "zero-width run": "傻" + "\u200b\u200c\u200d\ufeff" * 10_000 + "逼",
    "combining marks": "a" + "\u0301" * (N - 1),
    "three million combining marks": "傻" + "\u0301" * 3_000_000 + "逼",  # over max_chars: review, unscanned
    "combining marks on every character": "傻\u0301\u0302逼\u0303" * 5000,
    "emoji sequences": "👨‍👩‍👧‍👦🏳️‍🌈🇨🇳" * 2000 + "加我微信👉vx123456",
    "high plane characters": "\U00020000\U0002a6d6\U000e0041" * 3000,
    "private use": "\ue000\uf8ff" * 1000,
    "the same term fifty thousand times": ("傻逼" * N)[:N],
    "nul bytes around a term": "\x00傻\x00逼\x00",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_every_hostile_body_gets_a_verdict_that_serializes(name):
    verdict = BUNDLED.check({"id": name, "body": HOSTILE[name], "title": HOSTILE[name][:100]})
    assert verdict.decision in ("allow", "review", "reject")
    data = json.loads(verdict.to_json())  # valid JSON, lone surrogates included
    assert data["post_id"] == name
    for violation in verdict.violations:
        for e in violation.evidence:
            if e.start is not None:
                assert 0 <= e.start < e.end <= len(HOSTILE[name])


def test_the_size_limit_applies_before_any_work_and_sends_the_post_to_review():
    verdict = BUNDLED.check({"id": "big", "body": HOSTILE["one megabyte"]})
    assert verdict.decision == "review" and verdict.violations == ()
    assert "over the limit of 200000" in verdict.warnings[0]
    small = Engine(BUNDLED.policy, max_chars=10)
    assert small.check("你好啊，今天天气不错").decision == "allow"  # 10 characters: at the limit
    assert small.check("你好啊，今天天气不错！").decision == "review"


def test_disguises_made_of_invisible_characters_are_seen_through():
    for name in ("lone surrogates inside a word", "control characters", "zero-width run",
                 "nul bytes around a term"):
        assert BUNDLED.check(HOSTILE[name]).decision == "reject", name


def test_evidence_is_capped_per_violation_and_the_total_is_kept():
    verdict = BUNDLED.check(HOSTILE["the same term fifty thousand times"])
    abuse = verdict.violations[0]
    assert len(abuse.evidence) == 100
    assert abuse.evidence_total == N // 2
    assert f"等共 {N // 2} 处" in abuse.explanation
    assert json.loads(verdict.to_json())["violations"][0]["evidence_total"] == N // 2
    assert Engine(BUNDLED.policy, max_evidence=3).check("傻逼 傻逼 傻逼 傻逼").violations[0].evidence_total == 4


def test_all_regexes_of_a_post_share_one_time_budget(make_engine):
    slow = r"(?:\p{L}|\p{Han})*\d{%d}$"  # no literal to prefilter on: each runs until cut off
    rules = "\n".join(f'rule spam.r{i} "r{i}" {{ category spam clause 一.3.8 when body matches /{slow % (i + 1)}/ }}'
                      for i in range(6))
    engine = make_engine(rules, regex_timeout=0.02, regex_budget=0.03)
    verdict = engine.check("字" * 150_000 + "!")
    assert verdict.decision == "review"
    assert any("timed out" in w for w in verdict.warnings)
    assert any("budget of 30 ms is spent" in w for w in verdict.warnings)  # the rest never ran


# ---- the command line: any input line, a message naming it, never a traceback ---------------

RULES = 'lexicon abuse { terms "傻逼" }\nrule unfriendly.abuse "谩骂" { category unfriendly clause 一.2.6 ' \
        'when body has abuse }\n'


def test_scan_names_every_malformed_line_and_goes_on(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("policy.model.lines.MAX_LINE_CHARS", 10_000)
    lines = [
        '{"id": "ok", "body": "你是傻逼"}',
        '{"id": "n", "body": null}',  # a missing body: an empty post
        '{"id": "num", "body": 12}',
        '{"id": "list", "body": ["傻逼"]}',
        '{"id": "obj", "title": {"a": 1}}',
        '{"id": true, "body": "x"}',
        '{"id": "f", "author": {"verified": "yes"}}',
        '{"id": "g", "author": {"account_age_days": "3"}}',
        '{"id": "h", "author": 5}',
        '"just a string"',
        "42",
        "null",
        "[" * 4000 + "]" * 4000,  # deeper than Python's JSON parser recurses
        '{"id": "long", "body": "' + "好" * 20_000 + '"}',  # over the (patched) line limit
        '{"id": "s", "body": "\\ud800傻\\udfff逼"}',  # lone surrogates as JSON escapes
        '{"id": "last", "body": "你好"}',
    ]
    posts = tmp_path / "posts.jsonl"
    posts.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code = main(["scan", "--policy", str(write_policy(tmp_path / "p", RULES)), str(posts)])
    out, err = capsys.readouterr()
    assert code == 1  # some lines were skipped
    verdicts = [json.loads(line) for line in out.splitlines()]
    assert [(v["post_id"], v["decision"]) for v in verdicts] == [
        ("ok", "reject"), ("n", "allow"), ("s", "reject"), ("last", "allow")]
    assert "Traceback" not in err
    for number, message in [(3, "'body' must be a string, not int"), (4, "'body' must be a string, not list"),
                            (5, "'title' must be a string, not dict"),
                            (6, "'id' must be a string or a number, not bool"),
                            (7, "'author.verified' must be true or false"),
                            (8, "'author.account_age_days' must be a number, not str"),
                            (9, "'author' must be an object of facts, not int"),
                            (10, "a post must be a JSON object, not str"),
                            (11, "a post must be a JSON object, not int"),
                            (12, "a post must be a JSON object, not NoneType"),
                            (13, "invalid JSON: nested too deeply"), (14, "line longer than 10,000 characters")]:
        assert f"posts.jsonl:{number}: skipped: {message}" in err, (number, err)


def test_scan_output_survives_lone_surrogates(tmp_path):
    """Written through a real UTF-8 pipe, where an unescaped surrogate could not be encoded."""
    import subprocess
    import sys

    posts = tmp_path / "posts.jsonl"
    posts.write_text('{"id": "s", "body": "\\ud800傻\\udfff逼"}\n', encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "policy.cli", "scan", str(posts)], capture_output=True,
                            env={"PYTHONIOENCODING": "utf-8", "PATH": ""})
    assert result.returncode == 0, result.stderr.decode()
    verdict = json.loads(result.stdout)
    assert verdict["decision"] == "reject"
    assert verdict["violations"][0]["evidence"][0]["text"] == "傻\udfff逼"


def test_a_post_object_with_every_field_wrong_is_refused_by_name():
    from policy import PostError

    with pytest.raises(PostError, match="'title' must be a string"):
        Post.from_dict({"id": "x", "title": 3})


def test_the_ledger_records_posts_with_lone_surrogates_and_refuses_such_ids_by_name(ledger_target):
    from policy.store import LedgerError, open_ledger

    ledger = open_ledger(ledger_target)
    verdict = ledger.process(BUNDLED, Post.from_dict({"id": "s", "body": "你是傻\udfff逼", "author": {"id": "u1"}}))
    assert verdict.decision == "reject"
    assert ledger.post("s").text("body") == "你是傻\udfff逼"  # read back exactly
    with pytest.raises(LedgerError, match="not valid Unicode"):
        ledger.process(BUNDLED, Post.from_dict({"id": "bad\udfff", "body": "傻逼", "author": {"id": "u1"}}))
    assert ledger.verify_audit().ok and len(ledger.verdicts(user="u1")) == 1  # nothing half-written
