"""Read a policy's files from disk: the rule files, then the term files they name.

This is the only place besides the command line and the cache that touches the
file system for a policy.  Problems a user can cause (a missing folder, a file
that is not UTF-8) raise :class:`SourceError` with a message naming the path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from policy.lang import syntax as s
from policy.lang.check import TermFileText


class SourceError(Exception):
    """A policy path that cannot be read."""

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason or message
        """What is wrong, without the path: `no such file`, `not UTF-8 text (byte 3)`."""


@dataclass(frozen=True)
class PolicySources:
    root: Path
    texts: dict[str, str]
    """Rule file text by display path: the root as the user gave it, then the file."""

    def relative(self, display_path: str) -> str:
        """The path inside the policy, the same wherever the policy lives (hashed, shown in verdicts)."""
        base = self.root if self.root.is_dir() else self.root.parent
        try:
            return Path(display_path).relative_to(base).as_posix()
        except ValueError:
            return Path(display_path).name


def read_policy_files(path: str | Path) -> PolicySources:
    root = Path(path)
    if not root.exists():
        raise SourceError(f"policy path {str(path)!r} does not exist")
    if root.is_dir():
        files = sorted(p for p in root.rglob("*.policy") if p.is_file())
        if not files:
            raise SourceError(f"no .policy files in {str(path)!r}")
    else:
        files = [root]
    return PolicySources(root, {file.as_posix(): _read_text(file) for file in files})


def _read_text(file: Path) -> str:
    try:
        return file.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        reason = f"not UTF-8 text (byte {error.start})"
    except FileNotFoundError:
        reason = "no such file"
    except IsADirectoryError:
        reason = "is a folder, not a file"
    except OSError as error:  # too long a name, no permission, a loop of links, ...
        reason = error.strerror or str(error)
    except ValueError:  # the file system takes no NUL in a path
        reason = "the path contains a NUL character"
    raise SourceError(f"{file}: {reason}", reason)


def read_term_files(files: list[s.PolicyFile], read: Callable[[Path], str] | None = None,
                    ) -> dict[tuple[str, str], TermFileText]:
    """Read every ``file "..."`` a lexicon or variants table names, relative to its rule file.  ``read`` gives a
    file's text or raises SourceError (the default reads the disk; the fuzz tests read memory)."""
    read = read or _read_text
    found: dict[tuple[str, str], TermFileText] = {}
    for policy_file in files:
        folder = Path(policy_file.path).parent
        for decl in policy_file.decls:
            if not isinstance(decl, (s.Lexicon, s.Variants)):
                continue
            for term_file in decl.files:
                key = (policy_file.path, term_file.path)
                if key in found:
                    continue
                target = folder / term_file.path
                display = target.as_posix()
                try:
                    found[key] = TermFileText(display, read(target))
                except SourceError as error:
                    found[key] = TermFileText(display, None, error.reason)
    return found
