"""The on-disk cache of compiled policies: a policy whose rule and term files are unchanged loads
without compiling.  One of the few modules that write files (atomically: a reader sees the old file
or the whole new one)."""

from __future__ import annotations

import copy
import gc
import hashlib
import os
import pickle
import tempfile
from pathlib import Path

from policy.compiler.build import Built
from policy.compiler.compile import COMPILER_VERSION
from policy.compiler.compiled import CompiledPolicy
from policy.lang.sources import PolicySources
from policy.runtime.core import CORE

CACHE_FORMAT = "cache/4"
"""What a cache file holds, beside the compiler's version (which is also in the policy's version,
so it changes only when verdicts may): 2 added the flat automaton, 4 pickles the pyahocorasick
automaton apart, to be unpickled only when read."""


def _cache_key(sources: PolicySources) -> str:
    """The rule files' content and where they are: term files are checked on load
    (their absolute paths and hashes are stored with the compiled policy)."""
    digest = hashlib.sha256(f"{COMPILER_VERSION}\0{CACHE_FORMAT}".encode())
    digest.update(str(sources.root.resolve()).encode("utf-8", "surrogateescape") + b"\0")
    for display, text in sorted(sources.texts.items()):
        digest.update(sources.relative(display).encode() + b"\0" + text.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:32]


def _file_hash(path: str) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


def _load_cached(cache_file: Path) -> CompiledPolicy | None:
    collecting = gc.isenabled()
    gc.disable()  # unpickling makes many objects and no garbage: collections in between are wasted
    try:
        with open(cache_file, "rb") as f:
            deps, compiled, automaton = pickle.load(f)
        if CORE is not None and compiled.flat_automaton:
            compiled.defer_automaton(lambda: pickle.loads(automaton))  # the compiled core scans the flat one
        else:
            compiled.automaton = pickle.loads(automaton)
    except (OSError, pickle.PickleError, EOFError, ValueError, TypeError, AttributeError, ImportError):
        return None
    finally:
        if collecting:
            gc.enable()
    if any(_file_hash(path) != digest for path, digest in deps):
        return None  # a term file changed since the cache was written
    return compiled


def _store_cached(cache_file: Path, built: Built) -> None:
    deps = [(str(Path(path).resolve()), _file_hash(path))
            for path in [*built.texts, *built.resources] if path not in built.sources.texts]
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache_file.parent, prefix=".policy-")
        with os.fdopen(fd, "wb") as f:
            policy = copy.copy(built.compiled)
            automaton = pickle.dumps(policy.automaton, protocol=pickle.HIGHEST_PROTOCOL)
            policy.automaton = None
            pickle.dump((deps, policy, automaton), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, cache_file)  # readers see the old file or the whole new one
    except OSError:
        pass  # a cache that cannot be written only costs the next start some time
