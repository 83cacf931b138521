"""Parse policy source text into the typed syntax tree.

The grammar is loaded here and nowhere else.  Parsing is pure: text in, tree
and diagnostics out.

Error recovery: when a file does not parse, it is cut at every line that starts
with a declaration keyword and each piece is parsed on its own (its positions
shifted by where it starts, so spans stay exact and the work stays linear in
the size of the file).  Each broken declaration then reports its first error and
the good ones still reach the checker, so one run shows every problem.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import sys
import threading

import lark
from lark import Token, Tree

from policy.lang import syntax as s
from policy.lang.diagnostics import Diagnostic, Span
from policy.lang.resources import grammar_path

MAX_DEPTH = 40
"""Deepest nesting of conditions (parentheses, not, and/or) a rule may use."""

_DECL_START = re.compile(r"^(?:convention|clause|category|lexicon|allow|variants|rule|ladder|brake)\b", re.M)

_TOKEN_NAMES = {
    "NAME": "a name",
    "STRING": 'a string ("...")',
    "REGEX": "a regex (/.../)",
    "NUMBER": "a number",
    "CMP": "a comparison (>=, <=, ==, !=, >, <)",
    "TRUE": "true",
    "FALSE": "false",
    "NORMALIZED": "'normalized'",
    "$END": "end of file",
}


@functools.lru_cache(maxsize=2)
def _parser(keep_comments: bool = False) -> lark.Lark:
    with open(grammar_path(), encoding="utf-8") as f:
        grammar = f.read()
    options: dict = {}
    if keep_comments:
        options["lexer_callbacks"] = {"COMMENT": _COMMENTS.append}
    return lark.Lark(grammar, parser="lalr", strict=True, propagate_positions=True, maybe_placeholders=False,
                     **options)


_COMMENTS: list[Token] = []
"""Filled by the comment-keeping parser's lexer callback; guarded by _COMMENT_LOCK."""
_COMMENT_LOCK = threading.Lock()


def parse_tree_with_comments(text: str) -> tuple[Tree, list[Token]]:
    """lark's own tree and the comments the parser skips, for the formatter.

    Raises lark's exceptions on a syntax error: format only what ``parse`` accepts."""
    with _COMMENT_LOCK:
        _COMMENTS.clear()
        try:
            tree = _parser(True).parse(text)
            return tree, list(_COMMENTS)
        finally:
            _COMMENTS.clear()


def parse(text: str, path: str = "<string>") -> tuple[s.PolicyFile, list[Diagnostic]]:
    """Parse one file.  Returns the declarations that parsed and every diagnostic."""
    try:
        tree = _parser().parse(text)
    except lark.exceptions.LarkError:
        return _parse_with_recovery(text, path)
    return _build_file(tree, text, path)


def _parse_with_recovery(text: str, path: str) -> tuple[s.PolicyFile, list[Diagnostic]]:
    starts = [m.start() for m in _DECL_START.finditer(text)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    bounds = list(zip(starts, starts[1:] + [len(text)], strict=False))
    decls: list[s.Decl] = []
    diagnostics: list[Diagnostic] = []
    lines = 0  # line breaks before the piece; every piece starts a line, so columns need no shift
    previous = 0
    for start, end in bounds:
        lines += text.count("\n", previous, start)
        previous = start
        piece = text[start:end]
        try:
            tree = _parser().parse(piece)
        except lark.exceptions.LarkError as error:
            diagnostics.append(_shift(_syntax_diagnostic(error, piece, path), start, lines))
            continue
        file, found = _build_file(tree, piece, path, start, lines)
        decls.extend(file.decls)
        diagnostics.extend(found)
    return s.PolicyFile(path, tuple(decls), span=_whole(text, path)), diagnostics


def _shift(diagnostic: Diagnostic, offset: int, lines: int) -> Diagnostic:
    span = diagnostic.span
    return dataclasses.replace(diagnostic, span=Span(span.path, span.line + lines, span.column, span.end_line + lines,
                                                     span.end_column, span.start + offset, span.end + offset))


def _whole(text: str, path: str) -> Span:
    lines = text.split("\n")
    return Span(path, 1, 1, len(lines), len(lines[-1]) + 1, 0, len(text))


def _describe_expected(expected: set[str] | frozenset[str]) -> str:
    terminals = {t.name: t for t in _parser().terminals}
    words = set()
    for name in expected:
        if name in _TOKEN_NAMES:
            words.add(_TOKEN_NAMES[name])
        elif name in terminals and isinstance(terminals[name].pattern, lark.lexer.PatternStr):
            words.add(f"'{terminals[name].pattern.value}'")
        else:
            words.add(name.lower())
    ordered = sorted(words)
    if len(ordered) > 8:
        ordered = ordered[:8] + ["…"]
    return ", ".join(ordered)


def _point(text: str, path: str, pos: int, line: int, column: int, width: int = 1) -> Span:
    return Span(path, line, column, line, column + width, pos, pos + width)


def _syntax_diagnostic(error: lark.exceptions.LarkError, text: str, path: str) -> Diagnostic:
    expected = getattr(error, "expected", None) or set()
    interactive = getattr(error, "interactive_parser", None)
    if interactive is not None:
        try:
            expected = interactive.accepts() or expected  # includes keywords the lexer folds into NAME
        except lark.exceptions.LarkError:
            pass
    if isinstance(error, lark.exceptions.UnexpectedToken) and error.token.type != "$END":
        token = error.token
        shown = str(token)[:40]
        span = _point(text, path, token.start_pos or 0, token.line or 1, token.column or 1, max(len(str(token)), 1))
        return Diagnostic(
            "E001",
            f"unexpected {shown!r}",
            span,
            help=f"expected {_describe_expected(expected)}",
        )
    if isinstance(error, (lark.exceptions.UnexpectedEOF, lark.exceptions.UnexpectedToken)):
        stripped = text.rstrip()
        pos = len(stripped)
        line = stripped.count("\n") + 1
        column = pos - (stripped.rfind("\n") + 1) + 1
        return Diagnostic(
            "E002",
            "unexpected end of declaration",
            _point(text, path, pos, line, column),
            help=f"expected {_describe_expected(expected)}; is a closing brace missing?",
        )
    if isinstance(error, lark.exceptions.UnexpectedCharacters):
        char = text[error.pos_in_stream] if error.pos_in_stream < len(text) else ""
        hint = "strings use double quotes and end on the same line" if char in "\"'“”" else (
            "regexes are written /like this/ and end on the same line" if char == "/" else
            "check for a stray or unsupported character"
        )
        return Diagnostic(
            "E003",
            f"unexpected character {char!r}",
            _point(text, path, error.pos_in_stream, error.line, error.column),
            help=hint,
        )
    return Diagnostic("E001", f"syntax error: {error}", _point(text, path, 0, 1, 1))


# ---- from lark's tree to the typed tree --------------------------------------------


class _Build:
    def __init__(self, text: str, path: str, offset: int = 0, lines: int = 0):
        self.text = text
        self.path = path
        self.offset = offset  # where ``text`` starts in the file (a piece of it, in error recovery)
        self.lines = lines  # and the line breaks before it
        self.diagnostics: list[Diagnostic] = []

    def span(self, item: Tree | Token) -> Span:
        at, lines = self.offset, self.lines
        if isinstance(item, Token):
            return Span(self.path, (item.line or 0) + lines, item.column or 0, (item.end_line or 0) + lines,
                        item.end_column or 0, (item.start_pos or 0) + at, (item.end_pos or 0) + at)
        meta = item.meta
        if getattr(meta, "empty", True):
            return Span(self.path, 0, 0, 0, 0)
        return Span(self.path, meta.line + lines, meta.column, meta.end_line + lines, meta.end_column,
                    meta.start_pos + at, meta.end_pos + at)

    def error(self, code: str, message: str, at: Tree | Token | Span, help: str = "") -> None:
        span = at if isinstance(at, Span) else self.span(at)
        self.diagnostics.append(Diagnostic(code, message, span, help=help))

    def name(self, token: Token) -> s.Name:
        return s.Name(str(token), span=self.span(token))

    def string(self, token: Token) -> str:
        return _unescape(str(token)[1:-1], lambda msg: self.error("E004", msg, token,
                         help=r'supported escapes: \" \\ \n \t \uXXXX'))

    def number(self, token: Token) -> float:
        value = float(str(token))
        if math.isinf(value):
            self.error("E005", f"the number {str(token)[:12]}… is too large", token,
                       help="a number has at most 308 digits before the point")
            return sys.float_info.max
        return value

    def integer(self, token: Token, what: str) -> int:
        value = str(token)
        if math.isinf(float(value)):
            return int(self.number(token))
        if not value.isdigit():
            self.error("E005", f"{what} must be a whole number, not {value}", token)
            return int(float(value))
        return int(value)

    # -- declarations
    def decl(self, tree: Tree) -> s.Decl | None:
        return getattr(self, "decl_" + tree.data)(tree)

    def settings(self, children: list, kinds: dict[str, str]) -> dict[str, list[Tree]]:
        """Group setting subtrees by kind; single-valued kinds may appear once."""
        found: dict[str, list[Tree]] = {}
        for child in children:
            if not isinstance(child, Tree):
                continue
            kind = child.data
            if kind in found and kinds.get(kind) == "once":
                word = kind.split("_", 1)[1]
                self.error("E204", f"'{word}' is given twice", child,
                           help=f"a declaration takes one '{word}' setting; remove or merge the other")
                continue
            found.setdefault(kind, []).append(child)
        return found

    def decl_convention(self, tree: Tree) -> s.Convention:
        title, *rest = tree.children
        got = self.settings(rest, {"conv_version": "once", "conv_source": "once"})
        version = self.string(got["conv_version"][0].children[0]) if "conv_version" in got else None
        source = self.string(got["conv_source"][0].children[0]) if "conv_source" in got else None
        return s.Convention(self.string(title), version, source, span=self.span(tree))

    def decl_clause(self, tree: Tree) -> s.Clause:
        ident, text = tree.children
        return s.Clause(self.name(ident), self.string(text), span=self.span(tree))

    def decl_category(self, tree: Tree) -> s.Category:
        name, title, *rest = tree.children
        got = self.settings(rest, {"cat_clause": "once", "cat_severity": "once"})
        clauses = tuple(self.names(got["cat_clause"][0].children[0])) if "cat_clause" in got else ()
        severity = (self.integer(got["cat_severity"][0].children[0], "severity")
                    if "cat_severity" in got else None)
        return s.Category(self.name(name), self.string(title), clauses, severity, span=self.span(tree))

    def names(self, name_list: Tree) -> list[s.Name]:
        return [self.name(t) for t in name_list.children]

    def tags(self, tag_list: Tree | None) -> tuple[s.Name, ...]:
        return tuple(self.name(t) for t in tag_list.children) if tag_list is not None else ()

    def decl_lexicon(self, tree: Tree, is_allow: bool = False) -> s.Lexicon:
        name, *rest = tree.children
        title = self.string(rest.pop(0)) if rest and isinstance(rest[0], Token) else None
        got = self.settings(rest, {"lex_normalize": "once", "lex_match": "once", "lex_hits": "once",
                                   "lex_suppresses": "once", "lex_expand": "once", "lex_boundaries": "once"})
        terms = []
        for setting in got.get("lex_terms", []):
            for term in setting.children:
                text, *tag_list = term.children
                terms.append(s.Term(self.string(text), self.tags(tag_list[0] if tag_list else None),
                                    span=self.span(term)))
        files = tuple(s.TermFile(self.string(f.children[0]), span=self.span(f.children[0]))
                      for f in got.get("lex_file", []))
        tags = tuple(self.name(t) for setting in got.get("lex_tags", []) for t in setting.children)
        normalize = None
        if "lex_normalize" in got:
            normalize = tuple(
                s.NormStep(str(step.children[0]), step.data == "norm_on", span=self.span(step))
                for step in got["lex_normalize"][0].children
            )
        match = self.name(got["lex_match"][0].children[0]) if "lex_match" in got else None
        hits = self.name(got["lex_hits"][0].children[0]) if "lex_hits" in got else None
        suppresses = (tuple(self.names(got["lex_suppresses"][0].children[0]))
                      if "lex_suppresses" in got else None)
        expand = tuple(self.names(got["lex_expand"][0].children[0])) if "lex_expand" in got else ()
        boundaries = self.name(got["lex_boundaries"][0].children[0]) if "lex_boundaries" in got else None
        return s.Lexicon(self.name(name), title, is_allow, tuple(terms), files, tags, normalize, match,
                         hits, suppresses, expand, boundaries, span=self.span(tree))

    def decl_variants(self, tree: Tree) -> s.Variants:
        name, *rest = tree.children
        title = self.string(rest.pop(0)) if rest and isinstance(rest[0], Token) else None
        got = self.settings(rest, {})
        files = tuple(s.TermFile(self.string(f.children[0]), span=self.span(f.children[0]))
                      for f in got.get("var_file", []))
        return s.Variants(self.name(name), title, files, span=self.span(tree))

    def decl_allow_list(self, tree: Tree) -> s.Lexicon:
        return self.decl_lexicon(tree, is_allow=True)

    def decl_rule(self, tree: Tree) -> s.Rule:
        ident, title, *rest = tree.children
        once = {k: "once" for k in ("rule_category", "rule_clause", "rule_severity", "rule_mode",
                                    "rule_action", "rule_when", "rule_explain", "rule_sanction")}
        got = self.settings(rest, once)

        def first(kind: str) -> Token | Tree | None:
            return got[kind][0].children[0] if kind in got else None

        category = first("rule_category")
        clause_list = first("rule_clause")
        severity = first("rule_severity")
        mode = first("rule_mode")
        action = first("rule_action")
        when = first("rule_when")
        explain = first("rule_explain")
        sanction = first("rule_sanction")
        examples = []
        for setting in rest:
            if isinstance(setting, Tree) and setting.data in ("rule_violates", "rule_allows"):
                examples.append(self.example(setting.children[0], setting.data == "rule_violates",
                                             self.span(setting)))
        return s.Rule(
            self.name(ident),
            self.string(title),
            category=self.name(category) if category is not None else None,
            clauses=tuple(self.names(clause_list)) if clause_list is not None else (),
            severity=self.integer(severity, "severity") if severity is not None else None,
            tags=tuple(self.name(t) for setting in got.get("rule_tags", []) for t in setting.children),
            mode=self.name(mode) if mode is not None else None,
            action=self.name(action) if action is not None else None,
            when=self.expr(when) if when is not None else None,
            explain=self.string(explain) if explain is not None else None,
            examples=tuple(examples),
            sanction=self.name(sanction) if sanction is not None else None,
            span=self.span(tree),
        )

    def decl_brake(self, tree: Tree) -> s.Brake:
        title, *rest = tree.children
        got = self.settings(rest, {"brake_watch": "once", "brake_share": "once", "brake_minimum": "once"})
        watch = None
        if "brake_watch" in got:
            amount, unit = got["brake_watch"][0].children
            watch = s.Window(self.number(amount), self.name(unit), span=self.span(got["brake_watch"][0]))
        share = self.number(got["brake_share"][0].children[0]) if "brake_share" in got else None
        minimum = self.integer(got["brake_minimum"][0].children[0], "minimum") if "brake_minimum" in got else None
        return s.Brake(self.string(title), watch, share, minimum, span=self.span(tree))

    def decl_ladder(self, tree: Tree) -> s.Ladder:
        title, *rest = tree.children
        got = self.settings(rest, {"ladder_clause": "once", "ladder_escalate": "once", "ladder_expire": "once"})

        def window(kind: str) -> s.Window | None:
            if kind not in got:
                return None
            amount, unit = got[kind][0].children
            return s.Window(self.number(amount), self.name(unit), span=self.span(got[kind][0]))

        steps = []
        for setting in got.get("ladder_step", []):
            name, step_title, action, *duration = setting.children
            days = word = None
            if duration:
                if duration[0].data == "duration_days":
                    days = self.number(duration[0].children[0])
                    unit = duration[0].children[1]
                    if str(unit) not in ("day", "days"):
                        self.error("E114", f"unknown unit '{unit}'", unit, help="durations are in days: `mute 7 days`")
                else:
                    word = self.name(duration[0].children[0])
            steps.append(s.Step(self.name(name), self.string(step_title), self.name(action), days, word,
                                span=self.span(setting)))
        starts = tuple(s.LadderStart(self.integer(c.children[0], "severity"), self.name(c.children[1]),
                                     span=self.span(c)) for c in got.get("ladder_start", []))
        factors = []
        for setting in got.get("ladder_factor", []):
            name, factor_title, raises, *extra = setting.children
            tags: tuple[s.Name, ...] = ()
            when = None
            for part in extra:
                if part.data == "factor_tags":
                    tags = tuple(self.name(t) for t in part.children)
                else:
                    when = self.expr(part.children[0])
            factors.append(s.Factor(self.name(name), self.string(factor_title), self.integer(raises, "raises"),
                                    tags, when, span=self.span(setting)))
        holds = tuple(s.Hold(self.name(c.children[0]), self.string(c.children[1]), self.expr(c.children[2]),
                             span=self.span(c)) for c in got.get("ladder_hold", []))
        confirms = tuple(s.Confirm(self.integer(c.children[0], "the number of reviewers"),
                                   self.expr(c.children[1]), span=self.span(c)) for c in got.get("ladder_confirm", []))
        clauses = tuple(self.names(got["ladder_clause"][0].children[0])) if "ladder_clause" in got else ()
        return s.Ladder(self.string(title), clauses, tuple(steps), starts, window("ladder_escalate"),
                        window("ladder_expire"), tuple(factors), holds, confirms, span=self.span(tree))

    def example(self, tree: Tree, violates: bool, span: Span) -> s.Example:
        if tree.data == "example_text":
            body = s.Name("body", span=self.span(tree.children[0]))
            return s.Example(violates, ((body, self.string(tree.children[0])),), span=span)
        fields = []
        for item in tree.children:
            key, value = item.children
            if value.type == "STRING":
                parsed: str | float | bool = self.string(value)
            elif value.type == "NUMBER":
                parsed = self.number(value)
            else:
                parsed = value.type == "TRUE"
            fields.append((self.name(key), parsed))
        return s.Example(violates, tuple(fields), span=span)

    # -- conditions (recursive; depth already bounded by _check_depth)
    def expr(self, tree: Tree) -> s.Expr:
        kind = tree.data
        span = self.span(tree)
        c = tree.children
        if kind in ("any_of", "all_of"):
            items = tuple(self.expr(child) for child in c)
            if len(items) == 1:
                return items[0]
            return (s.AnyOf if kind == "any_of" else s.AllOf)(items, span=span)
        if kind == "negate":
            return s.Not(self.expr(c[0]), span=span)
        if kind == "has":
            return s.Has(self.name(c[0]), self.lexref(c[1]), span=span)
        if kind == "near":
            return s.Near(self.name(c[0]), self.lexref(c[1]), self.lexref(c[2]),
                          self.integer(c[3], "the 'within' distance"), span=span)
        if kind == "matches":
            return s.Matches(self.name(c[0]), self.regex(c[1]), span=span)
        if kind in ("count_hits", "distinct_hits"):
            return s.CountHits(self.name(c[0]), self.lexref(c[1]), str(c[2]), self.number(c[3]),
                               distinct=kind == "distinct_hits", span=span)
        if kind == "count_matches":
            return s.CountMatches(self.name(c[0]), self.regex(c[1]), str(c[2]), self.number(c[3]), span=span)
        if kind == "contacts":
            kinds = self.tags(c[1]) if len(c) == 4 else ()
            return s.Contacts(self.name(c[0]), kinds, str(c[-2]), self.number(c[-1]), span=span)
        if kind == "length":
            return s.Length(self.name(c[0]), str(c[1]), self.number(c[2]), span=span)
        if kind == "compare":
            return s.Compare(self.name(c[0]), str(c[1]), self.number(c[2]), span=span)
        if kind == "flag":
            return s.Flag(self.name(c[0]), span=span)
        raise AssertionError(f"unhandled condition node {kind}")  # grammar and builder disagree

    def lexref(self, tree: Tree) -> s.LexRef:
        name, *tag_list = tree.children
        return s.LexRef(self.name(name), self.tags(tag_list[0] if tag_list else None), span=self.span(tree))

    def regex(self, tree: Tree) -> s.Regex:
        token = tree.children[-1]
        normalized = len(tree.children) == 2
        literal = str(token)
        close = literal.rindex("/")
        return s.Regex(literal[1:close], literal[close + 1:], normalized, span=self.span(token))


def _check_depth(tree: Tree, builder: _Build) -> bool:
    """Refuse nesting deeper than MAX_DEPTH without recursing (no RecursionError)."""
    stack: list[tuple[Tree, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            builder.error("E601", f"condition nested more than {MAX_DEPTH} levels deep", node,
                          help="split the condition into several rules or flatten it")
            return False
        for child in node.children:
            if isinstance(child, Tree):
                stack.append((child, depth + 1))
    return True


def _build_file(tree: Tree, text: str, path: str, offset: int = 0, lines: int = 0,
                ) -> tuple[s.PolicyFile, list[Diagnostic]]:
    builder = _Build(text, path, offset, lines)
    decls: list[s.Decl] = []
    for child in tree.children:
        if not _check_depth(child, builder):
            continue
        decl = builder.decl(child)
        if decl is not None:
            decls.append(decl)
    return s.PolicyFile(path, tuple(decls), span=_whole(text, path)), builder.diagnostics


_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "/": "/"}


def _unescape(body: str, report) -> str:
    if "\\" not in body:
        return body
    out = []
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = body[i + 1] if i + 1 < len(body) else ""
        if nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        elif nxt == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", body[i + 2:i + 6]):
            code = int(body[i + 2:i + 6], 16)
            if 0xD800 <= code <= 0xDFFF:
                report(f"invalid escape \\u{body[i + 2:i + 6]} (a lone surrogate)")
            else:
                out.append(chr(code))
            i += 6
        else:
            report(f"unknown escape '\\{nxt}' in string")
            i += 2
    return "".join(out)
