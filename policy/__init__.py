"""A content-policy rule engine for a community convention.

    from policy import Engine
    engine = Engine.load()                      # the bundled convention
    verdict = engine.check({"id": "p1", "body": "你就是个傻逼"})
    print(verdict.decision, verdict.to_json())
"""

from .diagnostics import Diagnostic, PolicyError
from .engine import Engine, build, load
from .post import Post, PostError
from .sources import SourceError
from .verdict import Verdict

__all__ = ["Engine", "Post", "PostError", "PolicyError", "SourceError", "Diagnostic", "Verdict", "build", "load"]
