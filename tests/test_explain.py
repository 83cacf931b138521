"""policy explain: why a rule fired, or why not, down to the near misses."""

import json

import pytest

from policy import Post
from policy.cli import main
from policy.tools.explain import UnknownRule, explain

from .conftest import write_policy

RULES = """
lexicon insult { terms "傻逼" "sb" }
lexicon you { terms "你" }
allow harmless { terms "傻逼样" suppresses insult }
rule r "谩骂" {
  category unfriendly
  clause 一.2.6
  when body has insult near you within 3 and not author.verified and (links < 2 or body matches /滚/)
}
"""


@pytest.fixture
def engine(make_engine):
    return make_engine(RULES)


def find(step, label):
    if step.label == label:
        return step
    for child in step.children:
        found = find(child, label)
        if found:
            return found
    return None


def test_why_a_rule_fired(engine):
    result = explain(engine, "r", Post.of("你个傻@逼，滚"))
    assert result.fired
    near = find(result.root, "body has insult near you within 3")
    assert near.value and near.details == ["「傻@逼」 at 2–5, term '傻逼' and 「你」 at 0–1, term '你', 1 apart"]
    assert find(result.root, "author.verified").details == ["not supplied (the test is false)"]
    assert find(result.root, "links < 2").details == ["links = 0"]
    assert result.normalized == {"body": "你个傻逼滚"}


def test_why_not_names_the_near_misses(engine):
    result = explain(engine, "r", Post.of("你这傻逼样真可爱，Middlesb 也是"))
    assert not result.fired
    near = find(result.root, "body has insult near you within 3")
    assert "no hit of insult" in near.details


def test_explain_from_the_command_line(capsys, tmp_path):
    folder = write_policy(tmp_path / "p", RULES)
    code = main(["explain", "--policy", str(folder), "--rule", "r", "你太傻，逼我滚"])
    out = capsys.readouterr().out
    assert code == 0 and "does not fire" in out
    assert "near miss 「傻，逼」 at 2–5, term '傻逼': spans sentence punctuation" in out
    code = main(["explain", "--policy", str(folder), "--rule", "r", "--format", "json", "你个傻逼"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1 and data["fires"] and data["condition"]["test"] == "all of (and)"
    assert main(["explain", "--policy", str(folder), "--rule", "nope", "x"]) == 2
    assert "no rule 'nope'" in capsys.readouterr().err


def test_an_unknown_rule_suggests_the_closest(engine):
    with pytest.raises(UnknownRule, match="did you mean 'r'"):
        explain(engine, "rr", Post.of("x"))
