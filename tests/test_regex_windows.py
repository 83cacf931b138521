"""Regexes with a bounded width run only on windows around their literals, and find exactly what
a run over the whole text finds."""

from __future__ import annotations

import dataclasses

from hypothesis import given, settings
from hypothesis import strategies as st

from policy import Engine, Post
from policy.compiler.prefilter import match_width
from policy.runtime.evaluate import Context

BUNDLED = Engine.load()
WHOLE = dataclasses.replace(BUNDLED.policy, prefilter=dataclasses.replace(BUNDLED.policy.prefilter, windows=()))
"""The bundled convention with every regex run on the whole text: the reference."""


def _vocabulary() -> list[str]:
    words: set[str] = set()
    for requirement in BUNDLED.policy.prefilter.literals:
        for alternative in requirement or ():
            words.update(alternative)
    return sorted(words) + list("0123456789abcxyzQV .。，!#@-/") + ["１３８", "ＶＸ", "微 信", "\n", "的人", "8888"]


TEXT = st.lists(st.sampled_from(_vocabulary()), max_size=40).map("".join)


def regex_spans(policy, post: Post) -> dict:
    ctx = Context(policy, post, 10.0)
    found = {}
    for name in ("body", "title"):
        for index, (normalized, pattern) in enumerate(_nodes(policy)):
            found[(name, pattern)] = [(h.start, h.end) for h in ctx.regex_hits(name, index, normalized, pattern)]
    return found


def _nodes(policy):
    """(normalized, pattern) of each regex, as the rules read them."""
    seen = {}
    for rule in policy.rules:
        stack = [rule.condition]
        while stack:
            node = stack.pop()
            stack.extend(getattr(node, "items", ()))
            if hasattr(node, "item"):
                stack.append(node.item)
            if hasattr(node, "regex"):
                seen[node.regex] = (node.normalized, node.pattern)
    return [seen[i] for i in sorted(seen)]


@settings(max_examples=300, deadline=None)
@given(TEXT, TEXT)
def test_windows_find_what_the_whole_text_finds(body, title):
    post = Post.from_dict({"id": "w", "body": body, "title": title})
    assert regex_spans(BUNDLED.policy, post) == regex_spans(WHOLE, post)


PHONE_RULES = """
clause 一 "总则"
category c "类别" { clause 一 severity 1 }
rule c.phone "电话" { category c clause 一 when body matches /(?<![0-9])1[3-9]([ -]?[0-9]){9}(?![0-9])/ }
"""


def test_windows_find_matches_of_a_long_post_far_apart(tmp_path):
    (tmp_path / "phone.policy").write_text(PHONE_RULES, encoding="utf-8")
    own = Engine.load(tmp_path).policy
    whole_text = dataclasses.replace(own, prefilter=dataclasses.replace(own.prefilter, windows=()))
    post = Post.of("加微信 abc12345 " + "今天天气很好。" * 400 + "电话 13800138000 快来" + "无关的话" * 300
                   + "订单号 1380013800012 不是电话" + "。" * 500)
    assert regex_spans(BUNDLED.policy, post) == regex_spans(WHOLE, post)
    windowed, whole = regex_spans(own, post), regex_spans(whole_text, post)
    assert windowed == whole
    phone = next(key for key in whole if key[0] == "body")
    # one phone number: the thirteen digits are not one, which only reading past the match tells
    assert len(whole[phone]) == 1 and len(whole[phone]) == len(windowed[phone])


def test_what_bounds_a_window():
    assert match_width(r"(微信|vx)号?\d{6}") == (9, 1)  # the longest match, and one character of look-ahead
    assert match_width(r"1[3-9]\d{9}(?![0-9]{2})") == (11, 3)  # a look-ahead reads past the match
    assert match_width(r"加[vV]\s*\d+") is None  # unbounded: runs on the whole text
    assert sum(1 for w in BUNDLED.policy.prefilter.windows if w) >= 40  # most of the convention's regexes


def test_a_window_reads_as_far_past_a_match_as_the_pattern_looks(make_engine):
    engine = make_engine("""
rule spam.code "验证码" {
  category spam
  clause 一.3.8
  when body matches /码[0-9]{2}(?![0-9])|^开头|结尾$/
}
""")
    far = "这是一段很长的正文。" * 300
    assert engine.check(far + "码12" + far).decision == "reject"
    assert engine.check(far + "码123" + far).decision == "allow"  # the look-ahead sees the third digit
    assert engine.check(far + "结尾").decision == "reject" and engine.check(far + "结尾。").decision == "allow"
    assert engine.check("开头" + far).decision == "reject" and engine.check("。开头" + far).decision == "allow"
    assert engine.policy.prefilter.windows[0] is not None  # and it did run on windows


def test_a_regex_on_windows_keeps_its_timeout(make_engine):
    rules = """
rule spam.code "验证码" {
  category spam
  clause 一.3.8
  when body matches /码[0-9]{2}(?![0-9])/
}
"""
    post = "这是一段很长的正文。" * 300 + "码12" + "这是一段很长的正文。" * 300
    assert make_engine(rules).check(post).decision == "reject"
    verdict = make_engine(rules, regex_timeout=1e-9).check(post)  # no time at all: cut off, not skipped
    assert verdict.decision == "review" and "timed out" in verdict.warnings[0]
