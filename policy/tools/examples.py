"""Run the examples written inside each rule: the rule's own tests.

A ``violates`` post must make its rule fire (in enforce or shadow mode); an
``allows`` post must not.  Other rules are free to fire on either.
"""

from __future__ import annotations

from dataclasses import dataclass

from policy.engine.pipeline import Engine
from policy.model.verdict import Verdict


@dataclass(frozen=True)
class ExampleResult:
    rule: str
    location: str
    violates: bool
    post: dict
    verdict: Verdict

    @property
    def fired(self) -> bool:
        return any(v.rule == self.rule for v in self.verdict.violations + self.verdict.shadow)

    @property
    def passed(self) -> bool:
        return self.fired == self.violates

    def describe(self) -> str:
        """What was expected against what was found, for a failed example."""
        text = "; ".join(f"{k}={v!r}" for k, v in self.post.items() if k != "id")
        if self.violates:
            others = ", ".join(v.rule for v in self.verdict.violations) or "no rule"
            return (f"{self.location}: rule '{self.rule}' should flag this post but did not\n"
                    f"    post:     {text}\n"
                    f"    expected: {self.rule} fires\n"
                    f"    found:    {others} fired (decision {self.verdict.decision})")
        mine = next(v for v in self.verdict.violations + self.verdict.shadow if v.rule == self.rule)
        evidence = ", ".join(f"{e.field}[{e.start}:{e.end}] {e.text!r}" if e.kind != "fact" else
                             f"{e.field}={e.value}" for e in mine.evidence)
        return (f"{self.location}: rule '{self.rule}' should allow this post but flagged it\n"
                f"    post:     {text}\n"
                f"    expected: {self.rule} does not fire\n"
                f"    found:    fired on {evidence or 'the post as a whole'}")


def run_examples(engine: Engine) -> list[ExampleResult]:
    results = []
    for rule in engine.policy.rules:
        for number, example in enumerate(rule.examples, start=1):
            post: dict = {"id": f"{rule.id}#{number}"}
            for name, value in example.fields:
                post[name.text] = value
            verdict = engine.check(post)
            results.append(ExampleResult(rule.id, str(example.span), example.violates, post, verdict))
    return results
