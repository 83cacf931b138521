"""The engine: load a policy once (compiled, or from the on-disk cache), then check posts inline.

    from policy.engine import Engine
    engine = Engine.load()                 # the bundled convention
    verdict = engine.check({"id": "p1", "body": "你就是个傻逼"})

``pipeline`` runs the phases for one post; ``cache`` keeps compiled policies on disk;
``live`` swaps in a new policy version while posts are being checked.
"""

from policy.compiler.build import Built, build
from policy.engine.pipeline import Engine, load
from policy.lang.diagnostics import PolicyError
from policy.lang.sources import SourceError
from policy.model.post import PostError

__all__ = ["Engine", "build", "load", "Built", "PolicyError", "SourceError", "PostError"]
