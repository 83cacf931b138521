"""Where the grammar and the bundled convention live.

In a built wheel they are copied into the package (``policy/grammar``,
``policy/conventions``); in a source checkout they sit at the top level beside
the package.  One lookup serves both.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent


def _data_dir(name: str) -> Path:
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the installed package is missing its {name}/ folder (looked in {_PACKAGE})")


def grammar_path() -> Path:
    return _data_dir("grammar") / "policy.lark"


def bundled_convention() -> Path:
    return _data_dir("conventions")
