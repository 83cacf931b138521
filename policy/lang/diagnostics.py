"""One diagnostic type for every problem a policy author can see.

Each diagnostic has a stable code (documented in the README), a message, the
span it points at, and a help text.  ``render`` gives the human form
(``file:line:col``, the source line and a caret); ``as_dict`` the JSON form.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Span:
    """A region of a source file: 1-based line and column, 0-based offsets."""

    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    start: int = 0
    end: int = 0

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


NO_SPAN = Span("<none>", 0, 0, 0, 0)


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    span: Span
    help: str = ""
    severity: str = ERROR
    notes: tuple[str, ...] = field(default=())

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "path": self.span.path,
            "line": self.span.line,
            "column": self.span.column,
            "end_line": self.span.end_line,
            "end_column": self.span.end_column,
            "help": self.help,
        }

    def render(self, source: str | None) -> str:
        """Human form: header, the source line with a caret under the span, help."""
        out = [f"{self.span}: {self.severity}[{self.code}]: {self.message}"]
        line_text = _source_line(source, self.span.line)
        if line_text is not None:
            gutter = " " * len(str(self.span.line))
            out.append(f"{gutter} |")
            out.append(f"{self.span.line} | {line_text}")
            start = max(self.span.column - 1, 0)
            if self.span.end_line == self.span.line and self.span.end_column > self.span.column:
                width = _display_width(line_text[start : self.span.end_column - 1])
            else:
                width = 1
            lead = _display_width(line_text[:start])
            out.append(f"{gutter} | {' ' * lead}{'^' * max(width, 1)}")
        for note in self.notes:
            out.append(f"  = note: {note}")
        if self.help:
            out.append(f"  = help: {self.help}")
        return "\n".join(out)


def _source_line(source: str | None, line: int) -> str | None:
    if source is None or line < 1:
        return None
    lines = source.split("\n")
    if line > len(lines):
        return None
    return lines[line - 1].rstrip("\r").expandtabs(4)


def _display_width(text: str) -> int:
    """Terminal columns: CJK and other wide characters take two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def sort_key(d: Diagnostic) -> tuple:
    return (d.span.path, d.span.line, d.span.column, d.code)


class PolicyError(Exception):
    """Raised when a policy cannot be loaded; carries every diagnostic found."""

    def __init__(self, diagnostics: list[Diagnostic], sources: dict[str, str] | None = None):
        self.diagnostics = sorted(diagnostics, key=sort_key)
        self.sources = sources or {}
        errors = [d for d in self.diagnostics if d.is_error]
        first = errors[0] if errors else (self.diagnostics[0] if self.diagnostics else None)
        summary = f"{first.span}: {first.message}" if first else "policy failed to load"
        super().__init__(f"{len(errors)} error(s) in policy; first: {summary}")

    def render(self) -> str:
        return "\n\n".join(d.render(self.sources.get(d.span.path)) for d in self.diagnostics)
