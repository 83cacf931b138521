"""The bundled convention: it loads clean, and every example inside its rules holds."""

import pytest

from policy import Engine
from policy.engine import build
from policy.tools.examples import run_examples

BUILT = build()
assert BUILT.compiled is not None, "the bundled convention has errors: run `policy lint`"
RESULTS = run_examples(Engine(BUILT.compiled))


def test_the_bundled_convention_has_no_errors_or_warnings():
    assert [d.render(BUILT.texts.get(d.span.path)) for d in BUILT.diagnostics] == []


def test_the_clause_tree_holds_all_55_items():
    items = [cid for cid in BUILT.compiled.clauses if cid.startswith("一.") and cid.count(".") == 2]
    assert len(items) == 55
    assert BUILT.compiled.clauses["一.2.6"].startswith("谩骂")


@pytest.mark.parametrize("result", RESULTS, ids=lambda r: f"{r.rule}:{r.location.rsplit(':', 2)[-2]}")
def test_rule_example(result):
    assert result.passed, result.describe()
