"""Which per-post path runs: the compiled core (``policy._core``, built from ``policy/_core.c`` by
the package's build) or pure Python, the fallback and the oracle it is tested against.

``POLICY_PURE_PYTHON=1`` asks for pure Python; without a C compiler at install time the module is
absent and pure Python runs anyway.  ``PATH`` says which, and why (``policy --version`` prints it).
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import ahocorasick

    from policy.compiler.compiled import CompiledPolicy

PURE_PYTHON_ENV = "POLICY_PURE_PYTHON"


class Scanner(Protocol):
    def scan(self, data: bytes) -> list[tuple[int, int]]: ...


def _compiled_core() -> tuple[ModuleType | None, str]:
    if os.environ.get(PURE_PYTHON_ENV, "").strip() not in ("", "0"):
        return None, f"pure Python ({PURE_PYTHON_ENV}={os.environ[PURE_PYTHON_ENV]})"
    try:
        import policy._core as _core  # type: ignore[import-not-found]
    except ImportError:
        return None, "pure Python (the compiled core is not built: reinstall with a C compiler)"
    return _core, "compiled"


CORE, PATH = _compiled_core()
"""The compiled core module (None on the pure-Python path), and the path as words."""


class _Pyahocorasick:
    """The pure-Python path's scanner: pyahocorasick, given the bytes spelled as latin-1."""

    __slots__ = ("automaton",)

    def __init__(self, automaton: ahocorasick.Automaton):
        self.automaton = automaton

    def scan(self, data: bytes) -> list[tuple[int, int]]:
        return list(self.automaton.iter(data.decode("latin-1")))


def scanner_for(policy: CompiledPolicy) -> Scanner | None:
    """The scanner of the policy's automaton on the path that runs (None: the policy has no
    terms), made once per process and policy."""
    found = policy.__dict__.get("_runtime_scanner")
    if found is None:
        if policy.automaton is None:
            return None
        if CORE is not None and policy.flat_automaton:
            found = CORE.Automaton(policy.flat_automaton)
        else:
            found = _Pyahocorasick(policy.automaton)
        policy.__dict__["_runtime_scanner"] = found
    return found
