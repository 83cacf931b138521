"""Read, parse, check and compile a policy folder: the compiler's front door, and what ``lint`` shows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from policy.compiler.compile import compile_policy, uses_dictionary, version_of
from policy.compiler.compiled import CompiledPolicy
from policy.lang import syntax as s
from policy.lang.check import check
from policy.lang.diagnostics import Diagnostic
from policy.lang.parse import parse
from policy.lang.resources import bundled_convention
from policy.lang.sources import PolicySources, read_policy_files, read_term_files
from policy.text.words import dictionary, dictionary_path


@dataclass
class Built:
    """A policy read, parsed and checked: what ``lint`` shows and the compiler takes."""

    sources: PolicySources
    files: list[s.PolicyFile]
    diagnostics: list[Diagnostic]
    texts: dict[str, str]
    """Every source text by display path, term files included (for rendering)."""
    compiled: CompiledPolicy | None
    resources: tuple[str, ...] = ()
    """Files outside the policy its compiled form depends on (the word dictionary), for the cache."""


def build(path: str | Path | None = None) -> Built:
    """Read, parse, check and (when error-free) compile the policy at ``path``.

    Raises SourceError when the path cannot be read.  Problems in the policy are
    returned as diagnostics, never raised.
    """
    sources = read_policy_files(path if path is not None else bundled_convention())
    files: list[s.PolicyFile] = []
    diagnostics: list[Diagnostic] = []
    for display, text in sources.texts.items():
        parsed, found = parse(text, display)
        files.append(parsed)
        diagnostics.extend(found)
    term_files = read_term_files(files)
    texts = dict(sources.texts)
    texts.update({t.path: t.text for t in term_files.values() if t.text is not None})
    checked, found = check(files, term_files)
    diagnostics.extend(found)
    compiled = None
    resources: tuple[str, ...] = ()
    if not any(d.is_error for d in diagnostics):
        hashed = [(sources.relative(p), t) for p, t in sources.texts.items()]
        hashed += [(sources.relative(t.path), t.text or "") for t in term_files.values()]
        versioned = list(hashed)
        if uses_dictionary(checked):  # a new dictionary or pinyin table can change what matches
            versioned.append(("<dictionary>", f"{dictionary().digest} pypinyin {_version('pypinyin')}"))
            resources = (str(dictionary_path()),)
        compiled = compile_policy(checked, version_of(versioned))
        compiled = _relative_sources(compiled, sources)
        compiled.sources = dict(sorted(hashed))
    return Built(sources, files, diagnostics, texts, compiled, resources)


def _version(package: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return "absent"


def _relative_sources(policy: CompiledPolicy, sources: PolicySources) -> CompiledPolicy:
    from dataclasses import replace

    policy.rules = tuple(replace(r, source=(sources.relative(r.source[0]), r.source[1])) for r in policy.rules)
    return policy
