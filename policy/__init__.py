"""A content-policy rule engine for a community convention.

    from policy import Engine
    engine = Engine.load()                      # the bundled convention
    verdict = engine.check({"id": "p1", "body": "你就是个傻逼"})
    print(verdict.decision, verdict.to_json())
"""

from policy.compiler.build import build
from policy.engine.pipeline import Engine, load
from policy.lang.diagnostics import Diagnostic, PolicyError
from policy.lang.sources import SourceError
from policy.model.post import Post, PostError
from policy.model.verdict import Verdict

__all__ = ["Engine", "Post", "PostError", "PolicyError", "SourceError", "Diagnostic", "Verdict", "build", "load"]
