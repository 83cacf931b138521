"""The canonical layout of a policy file (``policy fmt``).

``format_source(text)`` prints lark's parse tree again, one way only:

- every declaration at column 0, one blank line between declarations; a run of one-line
  declarations of the same kind (``clause ID "text"`` lines) stays together, keeping only the
  blank lines its author put inside the run;
- a block prints ``keyword … {``, one setting a line indented two spaces, ``}`` alone (an empty
  block is ``{ }``); single spaces between tokens, ``, `` in lists;
- strings with the fewest escapes, numbers and regexes exactly as written;
- a ``terms`` setting wider than 100 columns (CJK characters count two) becomes several ``terms``
  lines; a condition wider than that breaks before its top-level ``or`` / ``and``;
- parentheses exactly where the tree needs them: a group lark's tree has (``(a or b) or c``) keeps
  them, a group it does not (``(a and b) or c``, ``not (x)``) loses them;
- every comment stays: one on its own line before the declaration or setting that follows it, one
  at the end of a line at the end of that line, one at the end of a block or file there.  A comment
  written inside a single printed line (``body has # … x``) moves up, on its own line, before it.

The output is parsed again and must say exactly what the input said, with the same comments in the
same order; otherwise ``FormatInternalError`` is raised rather than a changed policy returned.
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass, field

from lark import Token, Tree
from lark.lexer import PatternStr

from policy.lang.diagnostics import Diagnostic, _display_width
from policy.lang.parse import _parser, _unescape, parse, parse_tree_with_comments

WIDTH = 100
"""Target line width in terminal columns."""

INDENT = 2
"""Indentation of a setting inside a block."""

CONTINUATION = 4
"""Extra indentation of a condition's continuation lines (``or …`` / ``and …``)."""


class FormatError(Exception):
    """The text does not parse (or has other errors): it is not formatted.  The caller shows the diagnostics."""

    def __init__(self, message: str, diagnostics: list[Diagnostic] | None = None):
        super().__init__(message)
        self.message = message
        self.diagnostics = list(diagnostics or [])


class FormatInternalError(RuntimeError):
    """The formatter produced text that would change the policy's meaning or lose a comment: a formatter bug."""


# ---- printing pieces -------------------------------------------------------------------------------------------


_STRING_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t"}


def _string(token: Token) -> str:
    """A STRING token again, with the fewest escapes: ``\\"``, ``\\\\``, ``\\n``, ``\\t``.

    Other characters are themselves, except invisible control and line-separator characters, which
    would break or hide in the file; those keep a ``\\uXXXX`` escape."""
    value = _unescape(str(token)[1:-1], lambda message: None)
    out = []
    for ch in value:
        if ch in _STRING_ESCAPES:
            out.append(_STRING_ESCAPES[ch])
        elif ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F or ch in "\u2028\u2029":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _token(token: Token) -> str:
    return _string(token) if token.type == "STRING" else str(token)


def _names(tree: Tree) -> str:
    return ", ".join(str(t) for t in tree.children)


def _tag_list(tree: Tree) -> str:
    return "[" + ", ".join(str(t) for t in tree.children) + "]"


def _term(tree: Tree) -> str:
    text, *tags = tree.children
    return _string(text) + (" " + _tag_list(tags[0]) if tags else "")


def _lexref(tree: Tree) -> str:
    name, *tags = tree.children
    return str(name) + (_tag_list(tags[0]) if tags else "")


def _regex(tree: Tree) -> str:
    return " ".join(str(t) for t in tree.children)  # [normalized] /re/flags


def _unwrap(tree: Tree) -> Tree:
    """The node a condition means: lark wraps every operand in one-child any_of / all_of nodes."""
    while tree.data in ("any_of", "all_of") and len(tree.children) == 1:
        tree = tree.children[0]
    return tree


def _span(tree: Tree) -> tuple[int, int]:
    """Where a condition's first named token starts and its last one ends.

    Not lark's meta: a node's meta may or may not take in the parentheses around it, and comments
    must be placed the same way however the text around them was laid out."""
    tokens = list(tree.scan_values(lambda v: isinstance(v, Token)))
    return tokens[0].start_pos, tokens[-1].end_pos


def _is_group(tree: Tree) -> bool:
    return tree.data in ("any_of", "all_of")  # after _unwrap: two operands or more


def _operand(tree: Tree, parent: str) -> str:
    """An operand of `parent`, in parentheses where the tree has a group the precedence would not give."""
    node = _unwrap(tree)
    text = _cond(node)
    return "(" + text + ")" if _needs_parens(node, parent) else text


def _needs_parens(node: Tree, parent: str) -> bool:
    """A group inside `parent` that precedence alone would merge or regroup: ``(a or b) or c``,
    ``a and (b and c)``, ``(a or b) and c``, ``not (a and b)``; never ``a and b or c``."""
    return _is_group(node) and (parent != "any_of" or node.data == "any_of")


def _cond(tree: Tree) -> str:
    node = _unwrap(tree)
    kind, c = node.data, node.children
    if kind == "any_of":
        return " or ".join(_operand(child, kind) for child in c)
    if kind == "all_of":
        return " and ".join(_operand(child, kind) for child in c)
    if kind == "negate":
        return "not " + _operand(c[0], kind)
    if kind == "has":
        return f"{c[0]} has {_lexref(c[1])}"
    if kind == "near":
        return f"{c[0]} has {_lexref(c[1])} near {_lexref(c[2])} within {c[3]}"
    if kind == "matches":
        return f"{c[0]} matches {_regex(c[1])}"
    if kind in ("count_hits", "distinct_hits"):
        word = "count" if kind == "count_hits" else "distinct"
        return f"{word}({c[0]} has {_lexref(c[1])}) {c[2]} {c[3]}"
    if kind == "count_matches":
        return f"count({c[0]} matches {_regex(c[1])}) {c[2]} {c[3]}"
    if kind == "contacts":
        kinds = _tag_list(c[1]) if len(c) == 4 else ""
        return f"contacts({c[0]}){kinds} {c[-2]} {c[-1]}"
    if kind == "length":
        return f"length({c[0]}) {c[1]} {c[2]}"
    if kind == "compare":
        return f"{c[0]} {c[1]} {c[2]}"
    if kind == "flag":
        return str(c[0])
    raise FormatInternalError(f"unhandled condition node {kind}")  # grammar and formatter disagree


def _example(tree: Tree) -> str:
    if tree.data == "example_text":
        return _string(tree.children[0])
    if not tree.children:
        return "{ }"
    fields = " ".join(f"{item.children[0]} {_token(item.children[1])}" for item in tree.children)
    return "{ " + fields + " }"


_SIMPLE = {
    "conv_version": "version", "conv_source": "source", "cat_severity": "severity", "lex_file": "file",
    "lex_match": "match", "lex_hits": "hits", "rule_category": "category", "rule_severity": "severity",
    "rule_mode": "mode", "rule_action": "action", "rule_explain": "explain", "rule_sanction": "sanction",
    "lex_boundaries": "boundaries", "var_file": "file",
}
_NAME_LISTS = {"cat_clause": "clause", "lex_suppresses": "suppresses", "lex_expand": "expand", "rule_clause": "clause",
               "ladder_clause": "clause"}


def _setting_head(tree: Tree) -> tuple[str, Tree | None]:
    """A setting's text, or the text before its condition and the condition."""
    kind, c = tree.data, tree.children
    if kind in _SIMPLE:
        return f"{_SIMPLE[kind]} {_token(c[0])}", None
    if kind in _NAME_LISTS:
        return f"{_NAME_LISTS[kind]} {_names(c[0])}", None
    if kind in ("lex_tags", "rule_tags"):
        return "tags " + " ".join(str(t) for t in c), None
    if kind == "lex_normalize":
        return "normalize " + " ".join(("" if step.data == "norm_on" else "-") + str(step.children[0])
                                       for step in c), None
    if kind == "rule_when":
        return "when ", c[0]
    if kind in ("rule_violates", "rule_allows"):
        return f"{kind.split('_')[1]} {_example(c[0])}", None
    if kind == "ladder_step":
        name, title, action, *duration = c
        text = f"step {name} {_string(title)} {action}"
        if duration:
            text += " " + " ".join(str(t) for t in duration[0].children)
        return text, None
    if kind == "ladder_start":
        return f"start severity {c[0]} at {c[1]}", None
    if kind == "ladder_escalate":
        return f"escalate within {c[0]} {c[1]}", None
    if kind == "ladder_expire":
        return f"expire after {c[0]} {c[1]}", None
    if kind == "ladder_factor":
        name, title, raises, *extra = c
        text = f"factor {name} {_string(title)} raises {raises}"
        when = None
        for part in extra:
            if part.data == "factor_tags":
                text += " tags " + " ".join(str(t) for t in part.children)
            else:
                when = part.children[0]
        return (text + " when ", when) if when is not None else (text, None)
    if kind == "ladder_hold":
        return f"hold {c[0]} {_string(c[1])} when ", c[2]
    if kind == "ladder_confirm":
        return f"confirm {c[0]} when ", c[1]
    generic = _generic(tree)
    if generic is None:
        raise FormatInternalError(f"unhandled setting {kind}")  # grammar and formatter disagree
    return generic, None


@functools.lru_cache(maxsize=1)
def _grammar() -> tuple[dict[str, list], dict[str, str]]:
    """Each tree name's expansions, and the text of each keyword terminal."""
    parser = _parser()
    expansions: dict[str, list] = {}
    for rule in parser.rules:
        expansions.setdefault(str(rule.alias or rule.origin.name), []).append(rule.expansion)
    words = {t.name: t.pattern.value for t in parser.terminals if isinstance(t.pattern, PatternStr)}
    return expansions, words


def _keyword(kind: str) -> str:
    """The keyword a declaration starts with (``allow`` for an allow_list), from the grammar."""
    expansions, words = _grammar()
    for expansion in expansions.get(kind, []):
        if expansion and expansion[0].is_term and expansion[0].name in words:
            return words[expansion[0].name]
    return kind


def _generic(tree: Tree) -> str | None:
    """A setting made of keywords and tokens only, printed from its grammar rule: settings added to
    the grammar after this printer (``watch 7 days``) still format."""
    if not all(isinstance(c, Token) for c in tree.children):
        return None
    expansions, words = _grammar()
    types = [c.type for c in tree.children]
    for expansion in expansions.get(tree.data, []):
        if not all(sym.is_term for sym in expansion):
            continue
        if [sym.name for sym in expansion if not sym.filter_out] != types:
            continue
        if any(sym.filter_out and sym.name not in words for sym in expansion):
            continue
        children = iter(tree.children)
        return " ".join(words[sym.name] if sym.filter_out else _token(next(children)) for sym in expansion)
    return None


# ---- lines ------------------------------------------------------------------------------------------------------


@dataclass
class _Line:
    """One printed line and the stretch of source (offsets) it prints, for placing comments."""

    indent: int
    text: str | None
    start: int
    end: int
    comment_indent: int
    decl: bool = False
    """The first line of a declaration: blank lines may come before it."""
    blank: bool = False
    """A declaration that must be set apart from the one before by a blank line."""
    prev_end_line: int = 0
    """Source line where the declaration before it ended (0: none)."""
    start_line: int = 0
    before: list[tuple[Token, bool]] = field(default_factory=list)
    """Comments printed on their own lines before this line, and whether each was moved out of a line."""
    trailing: Token | None = None


def _width(indent: int, text: str) -> int:
    return indent + _display_width(text)


class _Printer:
    def __init__(self, text: str, comments: list[Token]):
        self.text = text
        self.positions = [c.start_pos for c in comments]
        self.lines: list[_Line] = []

    def has_comment(self, start: int, end: int) -> bool:
        i = bisect.bisect_left(self.positions, start)
        return i < len(self.positions) and self.positions[i] < end

    def add(self, indent: int, text: str, start: int, end: int, comment_indent: int | None = None) -> _Line:
        line = _Line(indent, text, start, end, indent if comment_indent is None else comment_indent)
        self.lines.append(line)
        return line

    # -- declarations
    def decl(self, tree: Tree, previous: tuple[str, bool, int] | None) -> tuple[str, bool, int]:
        meta = tree.meta
        kind = tree.data
        head_tokens = [c for c in tree.children if isinstance(c, Token)]
        settings = [c for c in tree.children if isinstance(c, Tree)]
        header = " ".join([_keyword(kind)] + [_token(t) for t in head_tokens])
        first = len(self.lines)
        if kind == "clause":
            self.add(0, header, meta.start_pos, meta.end_pos)
            one_line = True
        else:
            head_end = head_tokens[-1].end_pos
            one_line = not settings and not self.has_comment(head_end, meta.end_pos)
            if one_line:
                self.add(0, header + " { }", meta.start_pos, meta.end_pos)
            else:
                self.add(0, header + " {", meta.start_pos, head_end)
                for setting in settings:
                    self.setting(setting)
                self.add(0, "}", meta.end_pos - 1, meta.end_pos, comment_indent=INDENT)
        line = self.lines[first]
        line.decl = True
        line.start_line = meta.line
        if previous is not None:
            prev_kind, prev_one_line, prev_end_line = previous
            line.blank = not (one_line and prev_one_line and kind == prev_kind)
            line.prev_end_line = prev_end_line
        return kind, one_line, meta.end_line

    # -- settings
    def setting(self, tree: Tree) -> None:
        meta = tree.meta
        if tree.data == "lex_terms":
            self.terms(tree)
            return
        head, cond = _setting_head(tree)
        if cond is None:
            self.add(INDENT, head, meta.start_pos, meta.end_pos)
            return
        node = _unwrap(cond)
        one = head + _cond(node)
        end = _span(node)[1]
        if not _is_group(node):
            self.add(INDENT, one, meta.start_pos, end)
            return
        # break when too wide or when a comment sits between two operands (the break keeps it there)
        first_end = _span(_unwrap(node.children[0]))[1]
        if _width(INDENT, one) <= WIDTH and not self.has_comment(first_end, end):
            self.add(INDENT, one, meta.start_pos, end)
            return
        col = INDENT + _display_width(head)
        lines = self.group_lines(node, col, INDENT + CONTINUATION, 0)
        lines[0][1] = head + lines[0][1]
        lines[0][0], lines[0][2] = INDENT, meta.start_pos
        for indent, text, start, end in lines:
            self.add(indent, text, start, end)

    def group_lines(self, node: Tree, col: int, cont: int, tail: int) -> list[list]:
        """A condition group broken before each of its operators: [indent, text, start, end] a line.

        The first line starts at column `col` (after what the caller prints before it), the others at
        `cont`; `tail` columns follow the last line.  An operand still too wide breaks the same way
        inside: aligned after its opening parenthesis, or one step deeper when it has none."""
        word = "or " if node.data == "any_of" else "and "
        lines: list[list] = []
        last = len(node.children) - 1
        for i, child in enumerate(node.children):
            operand = _unwrap(child)
            at = col if i == 0 else cont + len(word)
            sub = self.operand_lines(operand, node.data, at, cont, tail if i == last else 0)
            if i > 0:
                sub[0][1] = word + sub[0][1]
            lines.extend(sub)
        return lines

    def operand_lines(self, operand: Tree, parent: str, col: int, cont: int, tail: int) -> list[list]:
        text = _operand(operand, parent)
        if not _is_group(operand) or col + _display_width(text) + tail <= WIDTH:
            return [[cont, text, *_span(operand)]]
        if _needs_parens(operand, parent):
            lines = self.group_lines(operand, col + 1, col + 1, tail + 1)
            lines[0][1] = "(" + lines[0][1]
            lines[-1][1] += ")"
        else:
            lines = self.group_lines(operand, col, cont + CONTINUATION, tail)
        lines[0][0] = cont
        return lines

    def terms(self, tree: Tree) -> None:
        """One `terms` line, or several when too wide or when a comment sits between two terms."""
        terms = tree.children
        segments: list[list[Tree]] = [[terms[0]]]
        for before, term in zip(terms, terms[1:], strict=False):
            if self.has_comment(before.meta.end_pos, term.meta.start_pos):
                segments.append([])
            segments[-1].append(term)
        first = True
        for segment in segments:
            line: list[Tree] = []
            for term in segment + [None]:
                if term is not None and (not line or _width(INDENT, self.terms_text(line + [term])) <= WIDTH):
                    line.append(term)
                    continue
                start = tree.meta.start_pos if first else line[0].meta.start_pos
                self.add(INDENT, self.terms_text(line), start, line[-1].meta.end_pos)
                first = False
                line = [term]

    @staticmethod
    def terms_text(terms: list[Tree]) -> str:
        return "terms " + " ".join(_term(t) for t in terms)

    # -- comments
    def place(self, comments: list[Token]) -> None:
        starts = [line.start for line in self.lines]
        for comment in comments:
            pos = comment.start_pos
            j = bisect.bisect_right(starts, pos)  # first line starting after the comment
            if j > 0 and self.lines[j - 1].end > pos:  # inside a printed line: before it, on its own line
                self.lines[j - 1].before.append((comment, True))
                continue
            line_start = self.text.rfind("\n", 0, pos) + 1
            at_end = self.text[line_start:pos].strip() != ""
            previous = self.lines[j - 1] if j > 0 else None
            if at_end and previous is not None and previous.trailing is None and not self.lines[j].before:
                previous.trailing = comment
            else:
                self.lines[j].before.append((comment, False))

    # -- output
    def render(self) -> str:
        out: list[str] = []
        for line in self.lines:
            if line.decl:
                self.render_separated(out, line)
            else:
                out.extend(" " * line.comment_indent + _comment(c) for c, _ in line.before)
            if line.text is None:  # end of file
                continue
            text = " " * line.indent + line.text
            if line.trailing is not None:
                text += "  " + _comment(line.trailing)
            out.append(text)
        return "".join(s + "\n" for s in out)

    @staticmethod
    def render_separated(out: list[str], line: _Line) -> None:
        """Comments before a declaration (or the end of the file), with blank lines where they belong."""
        gap = [c for c, moved in line.before if not moved]
        moved = [c for c, was_moved in line.before if was_moved]
        items = [c.line for c in gap] + ([line.start_line] if line.text is not None else [])
        if not items:
            return
        blanks = []
        previous = line.prev_end_line
        for item in items:
            blanks.append(previous > 0 and item - previous > 1)
            previous = item
        if line.blank and not any(blanks):
            blanks[0] = True
        for comment, blank in zip(gap, blanks, strict=False):
            if blank:
                out.append("")
            out.append(_comment(comment))
        if line.text is not None and blanks[-1]:
            out.append("")
        out.extend(_comment(c) for c in moved)


def _comment(token: Token) -> str:
    return str(token).rstrip()


# ---- the entry point -------------------------------------------------------------------------------------------


def _layout(text: str) -> str:
    tree, comments = parse_tree_with_comments(text)
    printer = _Printer(text, comments)
    previous = None
    for decl in tree.children:
        previous = printer.decl(decl, previous)
    end = printer.add(0, None, len(text) + 1, len(text) + 1)  # the end of the file
    end.decl = True
    end.prev_end_line = previous[2] if previous else 0
    printer.place(comments)
    return printer.render()


def format_source(text: str) -> str:
    """The canonical layout of one policy file.

    Raises ``FormatError`` when the text has errors (``policy.parse.parse`` reports them) and
    ``FormatInternalError`` if the result would not say the same thing with the same comments."""
    before, problems = parse(text)
    errors = [d for d in problems if d.is_error]
    if errors:
        first = errors[0]
        raise FormatError(f"cannot format: {len(errors)} error(s); first: {first.span}: {first.message}", errors)
    output = _layout(text)
    after, problems = parse(output)
    if any(d.is_error for d in problems):
        raise FormatInternalError("formatted text does not parse: " + "; ".join(
            f"{d.span}: {d.message}" for d in problems if d.is_error))
    if after.decls != before.decls:
        raise FormatInternalError("formatted text does not say the same as the input")
    if comment_texts(output) != comment_texts(text):
        raise FormatInternalError("formatted text lost or reordered a comment")
    return output


def comment_texts(text: str) -> list[str]:
    """The comments of a file that parses, in order, without trailing whitespace."""
    _, comments = parse_tree_with_comments(text)
    return [_comment(c) for c in comments]
