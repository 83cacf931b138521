"""The engine as the pipeline uses it: verdicts, determinism, cache, threads."""

import json
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest

from policy import Engine, PolicyError, Post, PostError
from policy.model.verdict import SCHEMA

RULES = """
lexicon abuse "谩骂用语" { terms "傻逼" "脑残" "sb" }
lexicon contact { terms "微信" "vx" "加v" tags contact }
lexicon offer { terms "兼职" "日结" "刷单" }
rule unfriendly.abuse "谩骂" {
  category unfriendly
  clause 一.2.6
  when body has abuse or title has abuse
  explain "以不文明的语言对他人进行负面评价：{evidence}"
}
rule spam.contact_offer "引流广告" {
  category spam
  clause 一.3.8
  action review
  when body has offer near contact within 12 and not author.verified
  explain "{terms}"
}
rule spam.links "链接过多" {
  category spam
  clause 一.3.8
  mode shadow
  when links >= 3 and author.account_age_days < 7
}
rule spam.phone "电话号码" {
  category spam
  clause 一.3.8
  when body matches normalized /1[3-9]\\d{9}/
}
"""

WHEN = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def engine(make_engine):
    return make_engine(RULES)


def test_a_clean_post_is_allowed(engine):
    verdict = engine.check({"id": "p1", "body": "今天天气不错，一起去爬山吧"})
    assert verdict.decision == "allow"
    assert verdict.violations == ()


def test_a_violation_explains_itself_down_to_the_characters(engine):
    post = {"id": "p2", "body": "楼上真是个傻 @ 逼", "author": {"id": "u7"}}
    verdict = engine.check(post, checked_at=WHEN)
    assert verdict.decision == "reject"
    (v,) = verdict.violations
    assert (v.rule, v.category, v.clauses[0][0], v.severity) == ("unfriendly.abuse", "unfriendly", "一.2.6", 2)
    (e,) = v.evidence
    assert post["body"][e.start:e.end] == "傻 @ 逼" == e.text
    assert (e.term, e.normalized, e.lexicon) == ("傻逼", "傻逼", "abuse")
    assert v.explanation == "以不文明的语言对他人进行负面评价：「傻 @ 逼」"
    assert v.source == ("main.policy", 13)


def test_review_actions_shadow_mode_and_facts(engine):
    ad = engine.check({"id": "p3", "body": "招兼职，日结，有意加 V 详聊"})
    assert ad.decision == "review"
    assert ad.violations[0].explanation == "兼职、加v、日结"
    verified = engine.check({"id": "p3", "body": "招兼职，日结，有意加 V 详聊", "author": {"verified": True}})
    assert verified.decision == "allow"
    links = engine.check({"id": "p4", "body": "http://a.cn http://b.cn http://c.cn", "author": {"account_age_days": 1}})
    assert links.decision == "allow"  # shadow rules are recorded but never decide
    assert [v.rule for v in links.shadow] == ["spam.links"]
    assert {(e.field, e.value) for e in links.shadow[0].evidence} == {("links", 3), ("author.account_age_days", 1)}


def test_normalized_regexes_report_original_spans(engine):
    text = "电话 1 3 8-0013-8000 快来"
    verdict = engine.check(text)
    (e,) = verdict.violations[0].evidence
    assert text[e.start:e.end] == "1 3 8-0013-8000"


def test_the_verdict_json_has_a_stable_schema(engine):
    data = json.loads(engine.check({"id": 9, "body": "sb"}).to_json())
    assert data["schema"] == SCHEMA
    assert list(data) == ["schema", "verdict_id", "post_id", "user_id", "checked_at", "policy", "decision", "sanction",
                          "violations", "shadow", "warnings"]
    assert data["post_id"] == "9"
    assert data["policy"]["version"].startswith("sha256:")
    assert set(data["violations"][0]["evidence"][0]) == {"field", "kind", "start", "end", "text", "lexicon",
                                                        "term", "normalized", "tags"}


def test_verdict_ids_are_time_ordered_and_a_forked_worker_never_repeats_them(engine):
    early = engine.check("你好", checked_at=datetime(2026, 1, 1, tzinfo=timezone.utc)).verdict_id
    late = engine.check("你好", checked_at=datetime(2026, 1, 2, tzinfo=timezone.utc)).verdict_id
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", early) and early < late
    read, write = os.pipe()
    child = os.fork()
    random_part = slice(14, None)  # after the milliseconds: what must differ even in the same millisecond
    if child == 0:  # the worker: its ids go back through the pipe
        os.write(write, " ".join(engine.check("你好").verdict_id[random_part] for _ in range(50)).encode())
        os._exit(0)
    os.close(write)
    ours = {engine.check("你好").verdict_id[random_part] for _ in range(50)}
    os.waitpid(child, 0)
    with os.fdopen(read) as pipe:
        theirs = set(pipe.read().split())
    assert len(theirs) == 50 and not ours & theirs


def test_a_verdict_id_begins_with_the_millisecond_of_its_checked_at(engine):
    def millis(verdict) -> int:
        return int(datetime.fromisoformat(verdict.checked_at.replace("Z", "+00:00")).timestamp() * 1000)

    given = engine.check("你好", checked_at=datetime(2026, 3, 4, 5, 6, 7, 891000, tzinfo=timezone.utc))
    assert given.checked_at == "2026-03-04T05:06:07.891Z"
    first = engine.check("你好")
    time.sleep(0.005)
    later = engine.check("你好")  # the clock's per-millisecond cache has moved on
    for verdict in (given, first, later):
        assert int(verdict.verdict_id[:13].replace("-", ""), 16) == millis(verdict)
    now = int(time.time() * 1000)
    assert now - 5000 < millis(first) < millis(later) <= now


def without_id_and_time(verdict) -> str:
    data = verdict.to_dict()
    del data["verdict_id"], data["checked_at"]
    return json.dumps(data, ensure_ascii=False)


POSTS = ["傻逼", "招兼职日结加微信", "你好", "ＳＢ 脑 残", "电话13800138000", "http://a.cn " * 4]


def test_the_same_post_gives_the_same_verdict_across_processes(engine, tmp_path):
    here = [without_id_and_time(engine.check({"id": str(i), "body": b})) for i, b in enumerate(POSTS)]
    policy_dir = tmp_path / "p1"
    script = (
        "import json,sys; from policy import Engine; from tests.test_engine import without_id_and_time, POSTS;"
        f"e=Engine.load({str(policy_dir)!r});"
        "print(json.dumps([without_id_and_time(e.check({'id': str(i), 'body': b})) for i, b in enumerate(POSTS)]))"
    )
    for seed in ("0", "12345"):
        run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                             env={"PYTHONHASHSEED": seed, "PATH": ""}, cwd=str(__import__("pathlib").Path.cwd()))
        assert json.loads(run.stdout) == here


def test_threads_share_one_engine(make_engine):
    """Eight threads on one engine give the verdicts one thread gives.  The regex timeout is
    generous here: the threads share one interpreter lock, so under load a 50 ms wall-clock
    timeout can trip and send a post to review, which is the timeout doing its job, not a race."""
    engine = make_engine(RULES, regex_timeout=10.0, regex_budget=10.0)
    posts = [{"id": str(i), "body": POSTS[i % len(POSTS)]} for i in range(600)]
    expected = [without_id_and_time(engine.check(p)) for p in posts]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda p: without_id_and_time(engine.check(p)), posts))
    assert got == expected


def test_the_cache_is_reused_and_invalidated_by_term_file_changes(make_engine, tmp_path):
    from policy.engine import build

    rules = 'lexicon words { file "words.txt" }\nrule r "r" { category spam clause 一.3.8 when body has words }\n'
    cache = tmp_path / "cache"
    first = make_engine(rules, files={"words.txt": "代发\n"}, cache_dir=cache)
    assert len(list(cache.iterdir())) == 1
    folder = tmp_path / "p1"
    again = Engine.load(folder, cache_dir=cache)
    assert again.version == first.version == build(folder).compiled.version
    (folder / "words.txt").write_text("引流\n", encoding="utf-8")
    changed = Engine.load(folder, cache_dir=cache)
    assert changed.version != first.version
    assert changed.check("专业引流").decision == "reject"


def test_a_cached_load_on_the_compiled_path_leaves_the_pure_python_automaton_until_it_is_read(tmp_path):
    import pickle

    from policy.runtime import core
    from policy.runtime.core import on_pure_python

    cache = tmp_path / "cache"
    fresh = Engine.load(cache_dir=cache)
    cached = Engine.load(cache_dir=cache)
    deferred = "automaton" not in cached.policy.__dict__
    assert deferred == (core.CORE is not None)  # the compiled core scans the flat automaton only
    post = {"id": "1", "body": "你就是个傻逼，加我微信 abc123456 领福利"}
    assert without_id_and_time(cached.check(post)) == without_id_and_time(fresh.check(post))
    assert ("automaton" not in cached.policy.__dict__) == deferred  # a check did not need it
    assert len(cached.policy.automaton) == len(fresh.policy.automaton)  # read: loaded then, once
    assert "automaton" in cached.policy.__dict__
    pure = Engine(on_pure_python(Engine.load(cache_dir=cache).policy))
    assert without_id_and_time(pure.check(post)) == without_id_and_time(fresh.check(post))
    again = pickle.loads(pickle.dumps(Engine.load(cache_dir=cache).policy))  # a deferred one still pickles whole
    assert len(again.automaton) == len(fresh.policy.automaton)


def test_a_broken_policy_raises_with_every_diagnostic(make_engine):
    with pytest.raises(PolicyError) as caught:
        make_engine('rule r "r" { category nope clause 一.9 when body has nothing }')
    assert {d.code for d in caught.value.diagnostics} == {"E102", "E103", "E101", "W701"}
    assert "main.policy:" in caught.value.render()


@pytest.mark.parametrize("post, problem", [
    ([], "cannot check a list"),
    ({"body": "x"}, "has no 'id'"),
    ({"id": "1", "body": 3}, "'body' must be a string"),
    ({"id": "1", "author": {"account_age_days": "old"}}, "'author.account_age_days' must be a number"),
    ({"id": "1", "author": "bob"}, "'author' must be an object"),
    ({"id": "1", "target": {"minor": "yes"}}, "'target.minor' must be true or false"),
    ({"id": "1", "author": {"id": []}}, "'author.id' must be a string or a number"),  # even when falsy
    ({"id": "1", "author": {"id": False}}, "'author.id' must be a string or a number"),
    ({"id": 1.5}, "'id' must be a string or a whole number, not 1.5"),
])
def test_a_post_with_wrong_types_is_refused_by_name(engine, post, problem):
    with pytest.raises(PostError, match=problem):
        engine.check(post)


def test_a_whole_number_written_as_a_float_is_the_same_id():
    """JSON Schema's integer takes 1000000.0 and 1e6; so does the post reader."""
    assert Post.from_dict({"id": 1e6, "author": {"id": 7.0}}).id == "1000000"
    assert Post.from_dict({"id": 1e6, "author": {"id": 7.0}}).user_id == "7"


def test_text_is_an_alias_of_body_and_posts_can_be_built_in_python(engine):
    assert engine.check({"id": "1", "text": "傻逼"}).decision == "reject"
    assert engine.check(Post.of("你好", title="傻逼")).decision == "reject"


def test_an_oversized_post_goes_to_review_unscanned(make_engine):
    engine = make_engine(RULES, max_chars=100)
    verdict = engine.check("你好" * 100)
    assert verdict.decision == "review"
    assert "over the limit" in verdict.warnings[0]


def test_a_regex_that_runs_too_long_is_cut_off_and_sent_to_review(make_engine):
    # Patterns the static check cannot parse are still bounded by the timeout.
    engine = make_engine(r'rule r "r" { category spam clause 一.3.8 when body matches /(?:\p{L}|\p{Han})*\d$/ }',
                         regex_timeout=0.001)
    verdict = engine.check("字" * 150_000 + "!")
    assert "timed out" in verdict.warnings[0]
    assert verdict.decision == "review"


def test_two_policy_folders_never_share_a_cache_entry(make_engine, tmp_path):
    """Same rule files, different term files: each folder gets its own compiled policy."""
    rules = 'lexicon words { file "words.txt" }\nrule r "r" { category spam clause 一.3.8 when body has words }\n'
    cache = tmp_path / "cache"
    first = make_engine(rules, files={"words.txt": "代发\n"}, cache_dir=cache)
    second = make_engine(rules, files={"words.txt": "引流\n"}, cache_dir=cache)
    assert first.version != second.version
    assert second.check("专业引流").decision == "reject" and second.check("专业代发").decision == "allow"


DETERMINISM_SCRIPT = """
import re, sys
from policy import Engine
from policy.model.sanction import Strike
from datetime import datetime, timezone
engine = Engine.load()
at = datetime(2026, 11, 22, 3, 0, tzinfo=timezone.utc)
history = [Strike("old", "v-old", "unfriendly.abuse", 2, datetime(2026, 11, 20, tzinfo=timezone.utc))]
posts = [rule_example for rule in engine.policy.rules for rule_example in rule.examples][::7]
out = []
for number, example in enumerate(posts):
    post = {"id": str(number), **{name.text: value for name, value in example.fields}}
    out.append(engine.check(post, checked_at=at, history=history).to_json())
out.append(engine.check({"id": "h", "body": "傻\\udfff逼" + "\\u200b" * 50 + "加微信 vx123456 " * 20}).to_json())
text = re.sub(r'"verdict_id":"[^"]*"', '"verdict_id":""', "\\n".join(out))
sys.stdout.buffer.write(re.sub(r'"checked_at":"[^"]*"', '"checked_at":""', text).encode())
"""


def test_the_bundled_convention_gives_byte_identical_verdicts_across_processes_and_hash_seeds():
    """Rule examples of every rule, with a ladder and prior strikes, plus a hostile post."""
    outputs = set()
    for seed in ("0", "1", "4242", "random"):
        run = subprocess.run([sys.executable, "-c", DETERMINISM_SCRIPT], capture_output=True, check=True,
                             env={"PYTHONHASHSEED": seed, "PATH": ""}, cwd=str(__import__("pathlib").Path.cwd()))
        outputs.add(run.stdout)
    assert len(outputs) == 1
    assert outputs.pop().count(b'"decision":"reject"') > 10


def test_every_placeholder_of_an_explanation_is_filled_in(make_engine):
    from policy.engine.pipeline import _PLACEHOLDER_VALUES
    from policy.lang.check import PLACEHOLDERS

    assert set(PLACEHOLDERS) == set(_PLACEHOLDER_VALUES)  # what the checker accepts, the engine fills
    engine = make_engine("""
lexicon abuse { terms "傻逼" "脑残" }
rule unfriendly.abuse "谩骂" {
  category unfriendly
  clause 一.2.6
  when body has abuse
  explain "{rule}|{title}|{category}|{clauses}|{terms}|{count}|{evidence}|{evidence:>12}"
}
""")
    (violation,) = engine.check("你个脑残，傻逼").violations
    rule, title, category, clauses, terms, count, evidence, padded = violation.explanation.split("|")
    assert (rule, title, terms, count) == ("unfriendly.abuse", "谩骂", "傻逼、脑残", "2")
    assert evidence == "「脑残」、「傻逼」"
    assert clauses.startswith("一.2.6 ") and category and padded == f"{evidence:>12}"
