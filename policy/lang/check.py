"""The checker: every problem of a policy in one run, each with a stable code.

Input is the parsed files and the text of every term file they name (read by
:mod:`policy.sources`); output is the diagnostics and, when there are no
errors, a :class:`CheckedPolicy` whose names are all resolved, ready for the
compiler.  The codes are listed in the README; tests pin each one.
"""

from __future__ import annotations

import difflib
import itertools
import math
import re
import string
import unicodedata
from dataclasses import dataclass, field
from typing import NamedTuple

import regex

from policy.lang import syntax as s
from policy.lang.diagnostics import ERROR, WARNING, Diagnostic, Span
from policy.model import fields as F
from policy.text.contacts import KINDS as CONTACT_KINDS
from policy.text.normalize import STEPS, Profile, normalize, resolve_steps, table_for
from policy.text.variants import BUILTIN as BUILTIN_EXPANSIONS
from policy.text.variants import parse_table as parse_variants

PLACEHOLDERS = ("evidence", "terms", "count", "rule", "title", "category", "clauses")
MODES = ("enforce", "shadow")
ACTIONS = ("reject", "review")
MATCH_MODES = ("words", "substring")
BOUNDARY_MODES = ("dictionary",)
HIT_MODES = ("longest", "all")
SEVERITIES = range(1, 5)
MAX_DAYS = 36_500
"""The longest mute, window or brake watch in days (100 years); dates much further away overflow datetime."""
_CLAUSE_ID = re.compile(r"^[一二三四五六七八九十]+(\.[1-9][0-9]*)*$")
MAX_REGEX_GROUP_DEPTH = 50
MAX_REGEX_COPIES = 10_000
"""The most pattern items a regex may stand for once its counted repeats are written out: the
regex module compiles ``x{N}`` as N copies, so ``x{4294967294}`` would take every byte of memory."""


class LoadedTerm(NamedTuple):
    """A term of a lexicon, from the rule file or from a term file.

    A tuple, and a term file's line is kept as (path, line, length) until a diagnostic
    needs its span: a 64k-term file makes 64k of these."""

    text: str
    key: str
    tags: frozenset[str]
    where: Span | tuple[str, int, int]

    @property
    def span(self) -> Span:
        if isinstance(self.where, Span):
            return self.where
        path, line, length = self.where
        return Span(path, line, 1, line, length + 1)


@dataclass
class CheckedLexicon:
    decl: s.Lexicon
    name: str
    is_allow: bool
    profile: Profile
    whole_words: bool
    all_hits: bool
    terms: list[LoadedTerm]
    suppresses: tuple[str, ...] | None
    expand: tuple[str, ...] = ()
    """Variants tables by name, and the built-in expansions (``pinyin``, ``initials``)."""
    boundaries: bool = False
    """Hits inside or across ordinary words of the dictionary are dropped."""


@dataclass
class CheckedPolicy:
    convention: s.Convention | None
    clauses: dict[str, s.Clause]
    categories: dict[str, s.Category]
    lexicons: dict[str, CheckedLexicon]
    rules: list[s.Rule]
    files: list[s.PolicyFile] = field(default_factory=list)
    ladder: s.Ladder | None = None
    brake: s.Brake | None = None
    variants: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    """Variants tables by name: a character -> what people write in its place."""


@dataclass(frozen=True)
class TermFileText:
    """What the loader found for a ``file`` setting: the text, or why not."""

    path: str
    text: str | None
    error: str | None = None


_NO_TAGS: frozenset[str] = frozenset()


class _Checker:
    def __init__(self, files: list[s.PolicyFile], term_files: dict[tuple[str, str], TermFileText]):
        self.files = files
        self.term_files = term_files
        self.diagnostics: list[Diagnostic] = []
        self.variant_files_seen: set[str] = set()

    def error(self, code: str, message: str, span: Span, help: str = "") -> None:
        self.diagnostics.append(Diagnostic(code, message, span, help=help, severity=ERROR))

    def warn(self, code: str, message: str, span: Span, help: str = "") -> None:
        self.diagnostics.append(Diagnostic(code, message, span, help=help, severity=WARNING))

    # ---- symbol tables --------------------------------------------------------
    def run(self) -> CheckedPolicy:
        decls = [d for f in self.files for d in f.decls]
        conventions = [d for d in decls if isinstance(d, s.Convention)]
        for extra in conventions[1:]:
            self.error("E202", "the convention is declared twice", extra.span,
                       help=f"the first declaration is at {conventions[0].span}")
        clauses = self.declare([d for d in decls if isinstance(d, s.Clause)], lambda d: d.id, "clause")
        categories = self.declare([d for d in decls if isinstance(d, s.Category)], lambda d: d.name, "category")
        lexicon_decls = self.declare([d for d in decls if isinstance(d, s.Lexicon)], lambda d: d.name,
                                     "lexicon or allow list")
        rules = self.declare([d for d in decls if isinstance(d, s.Rule)], lambda d: d.id, "rule")
        variants = {name: self.check_variants(decl) for name, decl in self.declare(
            [d for d in decls if isinstance(d, s.Variants)], lambda d: d.name, "variants table").items()}

        for clause in clauses.values():
            self.check_clause(clause, clauses)
        for category in categories.values():
            for ref in category.clauses:
                self.resolve(ref, clauses, "clause")
            self.check_severity(category.severity, category.span)
        lexicons = {name: self.check_lexicon(decl) for name, decl in lexicon_decls.items()}
        for lex in lexicons.values():
            for ref in lex.decl.expand:
                if ref.text not in variants and ref.text not in BUILTIN_EXPANSIONS:
                    close = _closest(ref.text, list(variants) + list(BUILTIN_EXPANSIONS))
                    self.error("E120", f"unknown variants table '{ref.text}'", ref.span,
                               help=(f"did you mean '{close}'? " if close else "")
                               + "declare `variants NAME { file \"…\" }`, or use the built-in "
                               + " or ".join(BUILTIN_EXPANSIONS))
        for lex in lexicons.values():
            for name in lex.suppresses or ():
                target = lexicons.get(name)
                if target is None:
                    self.unknown(s.Name(name, span=self._suppress_span(lex.decl, name)), "lexicon", lexicons)
                elif target.is_allow:
                    self.error("E111", f"allow list '{lex.name}' suppresses '{name}', which is an allow list too",
                               self._suppress_span(lex.decl, name), help="name deny lexicons only")
        self.check_allow_overlap(lexicons)
        ladders = [d for d in decls if isinstance(d, s.Ladder)]
        for extra in ladders[1:]:
            self.error("E206", "a second ladder is declared", extra.span,
                       help=f"a policy has one penalty ladder; the first is at {ladders[0].span}")
        ladder = ladders[0] if ladders else None
        steps = self.check_ladder(ladder, clauses, lexicons, list(rules.values()), categories) if ladder else {}
        for rule in rules.values():
            self.check_rule(rule, clauses, categories, lexicons)
            if rule.sanction is not None:
                if ladder is None:
                    self.error("E115", f"rule '{rule.id.text}' sanctions at step '{rule.sanction.text}' but the "
                               "policy has no ladder", rule.sanction.span, help="declare `ladder \"...\" { ... }`")
                else:
                    self.resolve_step(rule.sanction, steps)
        brakes = [d for d in decls if isinstance(d, s.Brake)]
        for extra in brakes[1:]:
            self.error("E206", "a second brake is declared", extra.span,
                       help=f"a policy has one brake; the first is at {brakes[0].span}")
        brake = brakes[0] if brakes else None
        if brake is not None:
            self.check_brake(brake)
        return CheckedPolicy(conventions[0] if conventions else None, clauses, categories, lexicons,
                             list(rules.values()), self.files, ladder, brake, variants)

    def check_variants(self, decl: s.Variants) -> dict[str, tuple[str, ...]]:
        if decl.name.text in BUILTIN_EXPANSIONS:
            self.error("E201", f"'{decl.name.text}' is the name of a built-in expansion", decl.name.span,
                       help="give the variants table another name")
        if not decl.files:
            self.error("E205", f"variants table '{decl.name.text}' names no file", decl.name.span,
                       help='add `file "lexicons/NAME.txt"`: one character, a TAB, its variants, a line')
        table: dict[str, tuple[str, ...]] = {}
        for variants_file in decl.files:
            loaded = self.term_files.get((decl.span.path, variants_file.path))
            if loaded is None or loaded.text is None:
                self.error("E402", f"cannot read variants file {variants_file.path!r}: "
                           f"{loaded.error if loaded else 'not read'}", variants_file.span,
                           help="paths are relative to the rule file that names them")
                continue
            found, problems = parse_variants(loaded.text)
            lines = loaded.text.split("\n")
            if loaded.path in self.variant_files_seen:
                problems = []  # a file two tables read: its problems once
            self.variant_files_seen.add(loaded.path)
            for number, problem in problems:
                self.error("E121", problem, Span(loaded.path, number, 1, number, len(lines[number - 1]) + 1),
                           help="for example: 傻<TAB>煞 沙 啥")
            for ch, variants in found.items():
                table[ch] = tuple(dict.fromkeys(table.get(ch, ()) + variants))
        return table

    def check_brake(self, brake: s.Brake) -> None:
        missing = [name for name, value in (("watch", brake.watch), ("share", brake.share),
                                            ("minimum", brake.minimum)) if value is None]
        if missing:
            self.error("E205", f"the brake needs {', '.join(missing)}", brake.span,
                       help="write `watch 7 days`, `share 5` (percent) and `minimum 50`")
        if brake.watch is not None and brake.watch.unit.text not in ("day", "days"):
            self.error("E114", f"unknown unit '{brake.watch.unit.text}'", brake.watch.unit.span,
                       help="the watch window is in days: `watch 7 days`")
        elif brake.watch is not None and brake.watch.amount > MAX_DAYS:
            self.error("E114", f"a watch of {brake.watch.amount:g} days is longer than {MAX_DAYS} days",
                       brake.watch.span, help="the watch window is in days: `watch 7 days`")
        if brake.share is not None and not 0 < brake.share <= 100:
            self.error("E118", f"share {brake.share:g} is not a percentage between 0 and 100", brake.span,
                       help="`share 5` trips a rule that matches more than 5% of the posts checked")
        if brake.minimum is not None and brake.minimum < 1:
            self.error("E118", "the minimum must be at least 1 match", brake.span)

    # ---- the ladder -----------------------------------------------------------------
    def resolve_step(self, name: s.Name, steps: dict) -> None:
        if name.text not in steps:
            close = _closest(name.text, list(steps))
            self.error("E115", f"unknown ladder step '{name.text}'", name.span,
                       help=f"did you mean '{close}'?" if close else "steps: " + ", ".join(steps))

    def check_ladder(self, ladder: s.Ladder, clauses, lexicons, rules: list[s.Rule], categories) -> dict:
        for ref in ladder.clauses:
            self.resolve(ref, clauses, "clause")
        steps = self.declare(list(ladder.steps), lambda st: st.name, "ladder step")
        if not ladder.steps:
            self.error("E207", "the ladder has no steps", ladder.span,
                       help='add steps lightest first: `step mute_1d "禁言 1 天" mute 1 day`')
        for step in ladder.steps:
            action = step.action.text
            if action not in ("mute", "ban"):
                self.error("E113", f"unknown step action '{action}'", step.action.span,
                           help="a step is `mute N days`, `mute permanent` or `ban`")
            elif action == "mute" and step.days is None and step.duration_word is None:
                self.error("E113", "a mute step needs a duration", step.action.span,
                           help="write `mute 7 days` or `mute permanent`")
            elif action == "ban" and (step.days is not None or step.duration_word is not None):
                self.error("E113", "a ban step takes no duration", step.action.span,
                           help="an account closure is always permanent: write `ban`")
            if step.duration_word is not None and step.duration_word.text != "permanent":
                self.error("E113", f"unknown duration '{step.duration_word.text}'", step.duration_word.span,
                           help="write a number of days or `permanent`")
            if step.days is not None and (step.days < 1 or step.days != int(step.days)):
                self.error("E113", f"a mute lasts a whole number of days, not {step.days:g}", step.span)
            elif step.days is not None and step.days > MAX_DAYS:
                self.error("E113", f"a mute of {step.days:g} days is longer than {MAX_DAYS} days", step.span,
                           help="write `mute permanent` for a mute without end")
        starts: dict[int, s.LadderStart] = {}
        for start in ladder.starts:
            self.check_severity(start.severity, start.span)
            if start.severity in starts:
                self.error("E201", f"duplicate start for severity {start.severity}", start.span,
                           help=f"first given at {starts[start.severity].span}")
            starts[start.severity] = start
            self.resolve_step(start.step, steps)
        for window in (ladder.escalate, ladder.expire):
            if window is not None and window.unit.text not in ("day", "days"):
                self.error("E114", f"unknown unit '{window.unit.text}'", window.unit.span,
                           help="windows are in days: `escalate within 180 days`")
            elif window is not None and window.amount > MAX_DAYS:
                self.error("E114", f"a window of {window.amount:g} days is longer than {MAX_DAYS} days", window.span,
                           help="windows are in days: `escalate within 180 days`")
        used = set()
        for rule in rules:
            if rule.sanction is not None:
                continue
            severity = rule.severity
            if severity is None and rule.category is not None and rule.category.text in categories:
                severity = categories[rule.category.text].severity
            if severity is not None:
                used.add(severity)
        for severity in sorted(used - set(starts)):
            self.error("E116", f"no starting step for severity {severity}", ladder.span,
                       help=f"rules of severity {severity} exist; add `start severity {severity} at STEP`")
        self.declare(list(ladder.factors), lambda f: f.name, "factor")
        self.declare(list(ladder.holds), lambda h: h.name, "hold")
        rule_tags = {t.text for rule in rules for t in rule.tags}
        for factor in ladder.factors:
            if factor.when is not None:
                self.check_expr(factor.when, lexicons, ladder=True)
            if factor.when is None and not factor.tags:
                self.error("E205", f"factor '{factor.name.text}' has neither tags nor a condition", factor.span,
                           help="add `tags TAG…` (rules carrying a tag) and/or `when CONDITION`")
            for tag in factor.tags:
                if tag.text not in rule_tags:
                    self.warn("W703", f"no rule carries the tag '{tag.text}'", tag.span,
                              help="add `tags " + tag.text + "` to the rules this factor should aggravate")
        for hold in ladder.holds:
            self.check_expr(hold.when, lexicons, ladder=True)
        for confirm in ladder.confirms:
            self.check_expr(confirm.when, lexicons, ladder=True)
            if confirm.reviewers < 1:
                self.error("E117", "a confirmation needs at least one reviewer", confirm.span)
        return steps

    def declare(self, items: list, name_of, what: str) -> dict:
        table: dict = {}
        for item in items:
            name = name_of(item)
            if name.text in table:
                self.error("E201", f"duplicate {what} '{name.text}'", name.span,
                           help=f"first declared at {name_of(table[name.text]).span}; names must be unique")
                continue
            table[name.text] = item
        return table

    def unknown(self, name: s.Name, what: str, known) -> None:
        close = _closest(name.text, list(known))
        hint = f"did you mean '{close}'?" if close else f"declare the {what} first"
        self.error({"lexicon": "E101", "category": "E102", "clause": "E103", "field": "E104"}[what],
                   f"unknown {what} '{name.text}'", name.span, help=hint)

    def resolve(self, name: s.Name, table: dict, what: str):
        found = table.get(name.text)
        if found is None:
            self.unknown(name, what, table)
        return found

    def check_severity(self, severity: int | None, span: Span) -> None:
        if severity is not None and severity not in SEVERITIES:
            self.error("E502", f"severity {severity} is out of range", span,
                       help=f"severity runs from {SEVERITIES.start} (light) to {SEVERITIES.stop - 1} (gravest)")

    def check_clause(self, clause: s.Clause, clauses: dict) -> None:
        ident = clause.id.text
        if not _CLAUSE_ID.match(ident):
            self.error("E203", f"'{ident}' is not a clause id", clause.id.span,
                       help="clause ids are a section numeral and item numbers: 一, 一.2, 一.2.6")
            return
        if "." in ident:
            parent = ident.rsplit(".", 1)[0]
            if parent not in clauses:
                self.error("E203", f"clause '{ident}' has no parent clause '{parent}'", clause.id.span,
                           help=f"declare `clause {parent} \"...\"` as well")

    # ---- lexicons -----------------------------------------------------------------
    def check_lexicon(self, decl: s.Lexicon) -> CheckedLexicon:
        profile = Profile()
        if decl.normalize is not None:
            bad = [step for step in decl.normalize if step.name not in STEPS + ("default", "all", "none")]
            for step in bad:
                self.error("E107", f"unknown normalization step '{step.name}'", step.span,
                           help="steps: " + ", ".join(STEPS) + "; sets: default, all, none")
            if not bad:
                profile = Profile(resolve_steps([(step.name, step.enabled) for step in decl.normalize]))
        whole_words = self.option(decl.match, MATCH_MODES, "match") != "substring"
        boundaries = self.option(decl.boundaries, BOUNDARY_MODES, "boundaries") == "dictionary"
        all_hits = self.option(decl.hits, HIT_MODES, "hits") == "all"
        if decl.suppresses is not None and not decl.is_allow:
            self.error("E112", "only an allow list can suppress other lexicons", decl.suppresses[0].span,
                       help="write `allow NAME { ... }` instead of `lexicon NAME { ... }`")
        table = table_for(profile)
        terms: list[LoadedTerm] = []
        for term in decl.terms:
            self.add_term(terms, term.text, frozenset(t.text for t in term.tags), term.span, table)
        for term_file in decl.files:
            self.load_term_file(terms, decl, term_file, table)
        if not terms and not any(self._file_failed(decl, f) for f in decl.files):
            self.error("E401", f"{'allow list' if decl.is_allow else 'lexicon'} '{decl.name.text}' has no terms",
                       decl.name.span, help='add `terms "..."` or `file "lexicons/NAME.txt"`')
        seen: dict[tuple[str, frozenset], LoadedTerm] = {}
        for term in terms:
            key = (term.key, term.tags)
            if key in seen:
                self.warn("W404", f"term {term.text!r} repeats an earlier term once normalized", term.span,
                          help=f"the earlier one is at {seen[key].span}")
            else:
                seen[key] = term
        suppresses = tuple(n.text for n in decl.suppresses) if decl.suppresses is not None else None
        return CheckedLexicon(decl, decl.name.text, decl.is_allow, profile, whole_words, all_hits, terms,
                              suppresses, tuple(ref.text for ref in decl.expand), boundaries)

    def option(self, name: s.Name | None, allowed: tuple[str, ...], what: str) -> str | None:
        if name is None:
            return None
        if name.text not in allowed:
            self.error("E108", f"unknown {what} mode '{name.text}'", name.span,
                       help=f"`{what}` takes one of: {', '.join(allowed)}")
            return None
        return name.text

    def add_term(self, terms: list, text: str, tags: frozenset, where: Span | tuple[str, int, int],
                 table) -> None:
        term = LoadedTerm(text, normalize(text, table), tags, where)
        if not term.key:
            self.error("E403", f"term {text!r} is empty once normalized", term.span,
                       help="a term of only spaces, punctuation or symbols can never match; "
                            "remove it or turn off the `separators` step for this lexicon")
            return
        lost = _lost_separators(text, table) if len(term.key) < len(text) else ""
        if lost:
            self.warn("W405", f"term {text!r} matches as {term.key!r}: {lost!r} is skipped like a "
                      "separator", term.span,
                      help="emoji, symbols and punctuation at a term's edge are separators, so they add "
                           "nothing to it; to match them literally, use a regex on the original text "
                           "(`body matches /…/`) or a lexicon with `normalize default -separators`")
        terms.append(term)

    def _file_failed(self, decl: s.Lexicon, term_file: s.TermFile) -> bool:
        loaded = self.term_files.get((decl.span.path, term_file.path))
        return loaded is None or loaded.text is None

    def load_term_file(self, terms: list, decl: s.Lexicon, term_file: s.TermFile, table) -> None:
        loaded = self.term_files.get((decl.span.path, term_file.path))
        if loaded is None or loaded.text is None:
            reason = loaded.error if loaded else "not read"
            self.error("E402", f"cannot read term file {term_file.path!r}: {reason}", term_file.span,
                       help="paths are relative to the rule file that names them")
            return
        for number, line in enumerate(loaded.text.split("\n"), start=1):  # lines as spans count them
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            text, _, tag_text = line.partition("\t")
            text = text.strip()
            tags = frozenset(t for t in re.split(r"[,\s]+", tag_text.strip()) if t) if tag_text else _NO_TAGS
            self.add_term(terms, text, tags, (loaded.path, number, len(line)), table)

    def check_allow_overlap(self, lexicons: dict[str, CheckedLexicon]) -> None:
        allows = [lex for lex in lexicons.values() if lex.is_allow]
        for lex in lexicons.values():
            if lex.is_allow:
                continue
            for allow in allows:
                if allow.suppresses is not None and lex.name not in allow.suppresses:
                    continue
                allowed = {t.key for t in allow.terms}
                for term in lex.terms:
                    if term.key in allowed:
                        self.warn("W402", f"term {term.text!r} of '{lex.name}' is also on allow list "
                                  f"'{allow.name}', so it never matches", term.span,
                                  help="remove it from one of the two lists")

    def _suppress_span(self, decl: s.Lexicon, name: str) -> Span:
        for ref in decl.suppresses or ():
            if ref.text == name:
                return ref.span
        return decl.span

    # ---- rules ----------------------------------------------------------------------
    def check_rule(self, rule: s.Rule, clauses, categories, lexicons) -> None:
        if rule.category is None:
            self.error("E205", f"rule '{rule.id.text}' has no category", rule.id.span,
                       help="add `category NAME`; categories: " + ", ".join(categories))
        else:
            category = self.resolve(rule.category, categories, "category")
            if category is not None and rule.severity is None and category.severity is None:
                self.error("E205", f"rule '{rule.id.text}' has no severity and its category gives none",
                           rule.id.span, help="add `severity N` to the rule or its category")
        if not rule.clauses:
            self.error("E205", f"rule '{rule.id.text}' cites no clause of the convention", rule.id.span,
                       help="add `clause 一.2.6` (the item the rule enforces)")
        for ref in rule.clauses:
            self.resolve(ref, clauses, "clause")
        self.check_severity(rule.severity, rule.span)
        if rule.mode is not None and rule.mode.text not in MODES:
            self.error("E109", f"unknown mode '{rule.mode.text}'", rule.mode.span,
                       help="mode is one of: " + ", ".join(MODES))
        if rule.action is not None and rule.action.text not in ACTIONS:
            self.error("E109", f"unknown action '{rule.action.text}'", rule.action.span,
                       help="action is one of: " + ", ".join(ACTIONS))
        if rule.explain is not None:
            self.check_template(rule)
        if rule.when is None:
            self.error("E205", f"rule '{rule.id.text}' has no condition", rule.id.span,
                       help="add `when ...`, for example `when body has LEXICON`")
        else:
            ok = self.check_expr(rule.when, lexicons)
            if ok and not _satisfiable(rule.when, lexicons):
                self.error("E501", f"rule '{rule.id.text}' can never fire", rule.when.span,
                           help="its condition contradicts itself (a test and its negation, "
                                "or number bounds that no value meets)")
        if not rule.examples:
            self.warn("W701", f"rule '{rule.id.text}' has no examples", rule.id.span,
                      help='add `violates "..."` and `allows "..."` posts; they run as tests')
        for example in rule.examples:
            self.check_example(example)

    def check_template(self, rule: s.Rule) -> None:
        formatter = string.Formatter()
        try:
            fields = [(f, spec, conversion) for _, f, spec, conversion in formatter.parse(rule.explain or "")
                      if f is not None]
        except ValueError as error:
            self.error("E106", f"explanation template is malformed: {error}", rule.span,
                       help="write literal braces as {{ and }}")
            return
        for name, spec, conversion in fields:
            if name not in PLACEHOLDERS:
                self.error("E106", f"unknown placeholder {{{name}}} in the explanation", rule.span,
                           help="placeholders: " + ", ".join("{" + p + "}" for p in PLACEHOLDERS))
                continue
            try:  # every placeholder stands for a text, so what formats one text formats them all
                if "{" in spec:
                    raise ValueError("a placeholder inside a format specification")
                format(formatter.convert_field("text", conversion), spec)
            except ValueError as error:
                self.error("E106", f"placeholder {{{name}}} cannot be formatted: {error}", rule.span,
                           help=f"write {{{name}}}, or a text format such as {{{name}:>10}}")

    def field(self, name: s.Name, kind: str, use: str, ladder: bool = False) -> bool:
        actual = F.kind_of(name.text, ladder)
        if actual is None:
            self.unknown(name, "field", {**F.FIELDS, **(F.LADDER_FIELDS if ladder else {})})
            return False
        if actual != kind:
            self.error("E105", f"'{name.text}' is a {actual} field and cannot be used with {use}", name.span,
                       help=f"{use} needs a {kind} field: "
                            + ", ".join(n for n, (k, _) in F.FIELDS.items() if k == kind))
            return False
        return True

    def lexref(self, ref: s.LexRef, lexicons: dict[str, CheckedLexicon]) -> bool:
        lex = lexicons.get(ref.lexicon.text)
        if lex is None:
            self.unknown(ref.lexicon, "lexicon", lexicons)
            return False
        ok = True
        known_tags = {t for term in lex.terms for t in term.tags} | {t.text for t in lex.decl.tags}
        for tag in ref.tags:
            if tag.text not in known_tags:
                self.error("E110", f"no term of '{lex.name}' has the tag '{tag.text}'", tag.span,
                           help="tags of this lexicon: " + (", ".join(sorted(known_tags)) or "none"))
                ok = False
        return ok

    def check_regex(self, rx: s.Regex) -> bool:
        try:
            compile_regex(rx)
        except (regex.error, ValueError) as error:  # ValueError: (?V1) inside, against the V0 flag
            self.error("E301", f"invalid regex: {error}", rx.span, help="the regex syntax is Python's `regex` module")
            return False
        except RecursionError:
            self.error("E301", "invalid regex: nested too deeply", rx.span)
            return False
        problem = catastrophic(rx.pattern)
        if problem:
            self.error("E302", f"regex can backtrack catastrophically: {problem}", rx.span,
                       help="rewrite without a repeat inside a repeat, e.g. (a+)+ -> a+; "
                            "every match is also cut off by a timeout")
            return False
        return True

    def check_expr(self, expr: s.Expr, lexicons, ladder: bool = False) -> bool:
        """Names, types and regexes of a condition; True when all are sound.

        ``ladder`` conditions may also read the facts of the sanction being decided."""
        ok = True
        for node in s.predicates(expr):
            if isinstance(node, s.Has):
                ok &= self.field(node.field, F.TEXT, "`has`", ladder) & self.lexref(node.lex, lexicons)
            elif isinstance(node, s.Near):
                ok &= self.field(node.field, F.TEXT, "`near`", ladder) & self.lexref(node.first, lexicons)
                ok &= self.lexref(node.second, lexicons)
            elif isinstance(node, s.CountHits):
                ok &= self.field(node.field, F.TEXT, "`count`", ladder) & self.lexref(node.lex, lexicons)
            elif isinstance(node, (s.Matches, s.CountMatches)):
                ok &= self.field(node.field, F.TEXT, "`matches`", ladder) & self.check_regex(node.regex)
            elif isinstance(node, s.Contacts):
                ok &= self.field(node.field, F.TEXT, "`contacts`", ladder)
                for kind in node.kinds:
                    if kind.text not in CONTACT_KINDS:
                        close = _closest(kind.text, list(CONTACT_KINDS))
                        self.error("E119", f"unknown kind of contact '{kind.text}'", kind.span,
                                   help=(f"did you mean '{close}'? " if close else "")
                                   + "kinds: " + ", ".join(CONTACT_KINDS))
                        ok = False
            elif isinstance(node, s.Length):
                ok &= self.field(node.field, F.TEXT, "`length`", ladder)
            elif isinstance(node, s.Compare):
                ok &= self.field(node.field, F.NUMBER, "a comparison", ladder)
            elif isinstance(node, s.Flag):
                ok &= self.field(node.field, F.BOOLEAN, "a bare test", ladder)
        return bool(ok)

    def check_example(self, example: s.Example) -> None:
        for name, value in example.fields:
            kind = F.kind_of(name.text)
            if kind is None:
                self.unknown(name, "field", F.FIELDS)
                continue
            expected = {F.TEXT: str, F.NUMBER: float, F.BOOLEAN: bool}[kind]
            if not isinstance(value, expected):
                self.error("E702", f"example field '{name.text}' takes a {kind}, not {value!r}", name.span,
                           help={F.TEXT: 'a string: "..."', F.NUMBER: "a number: 3",
                                 F.BOOLEAN: "true or false"}[kind])


def _lost_separators(text: str, table) -> str:
    """The characters of a term that normalization skips and that change what it matches: symbols
    and emoji anywhere (``c++``, ``母🐶``), and punctuation or spaces at its edge (``.net`` is
    ``net``).  Punctuation inside a term is the separators step at work (``roxy-man.ru``)."""
    kept = [bool(table.lookup(ch)) for ch in text]
    first = kept.index(True) if True in kept else len(text)
    last = len(text) - 1 - kept[::-1].index(True) if True in kept else -1
    return "".join(ch for i, ch in enumerate(text) if not kept[i] and (
        unicodedata.category(ch).startswith("S") or i < first or i > last))


def compile_regex(rx: s.Regex) -> regex.Pattern:
    flags = regex.V0
    for letter in rx.flags:
        flags |= {"i": regex.I, "m": regex.M, "s": regex.S, "x": regex.X}[letter]
    if _group_depth(rx.pattern) > MAX_REGEX_GROUP_DEPTH:
        raise regex.error(f"groups nested more than {MAX_REGEX_GROUP_DEPTH} deep")
    copies = max(_copies(rx.pattern, nested_sets) for nested_sets in (False, True))
    if copies > MAX_REGEX_COPIES:
        raise regex.error(f"counted repeats require {'over a billion' if copies > 10**9 else f'{copies:,}'} "
                          f"copies of their parts; at most {MAX_REGEX_COPIES:,}")
    return regex.compile(rx.pattern, flags)


_COUNT = re.compile(r"\{(\d*)(?:,\d*)?\}")


def _copies(pattern: str, nested_sets: bool) -> int:
    """How many items the pattern stands for with each counted repeat written out as often as it
    must match (``(ab){3}`` is 6).  Read from the text, so syntax only the regex module knows
    counts too; over-counting is safe.  ``nested_sets``: read ``[`` inside a class as a nested set
    (version 1 syntax) rather than a character; the caller takes the larger of both readings."""
    groups = [[0, 0]]  # per open group: items so far, items of the last element
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        size = 1
        if ch == "\\":
            i += 2
            if pattern[i - 1:i] in ("p", "P", "N", "x", "g", "k") and pattern[i:i + 1] == "{":
                close = pattern.find("}", i)
                i = close + 1 if close != -1 else len(pattern)
        elif ch == "[":
            i = _class_end(pattern, i, nested_sets)
        elif ch == "(":
            groups.append([0, 0])
            i += 1
            continue
        elif ch == ")" and len(groups) > 1:
            size = max(groups.pop()[0], 1)
            i += 1
        elif ch == "{" and (count := _COUNT.match(pattern, i)):
            i = count.end()
            least = count.group(1)
            times = 10**10 if len(least) > 10 else max(int(least or 0), 1)
            group = groups[-1]
            group[0] = min(group[0] + group[1] * (times - 1), 10**12)
            group[1] = min(group[1] * times, 10**12)
            continue
        else:
            i += 1
        groups[-1][0] = min(groups[-1][0] + size, 10**12)
        groups[-1][1] = size
    return sum(group[0] for group in groups)


def _class_end(pattern: str, start: int, nested_sets: bool) -> int:
    """The index just past the character class opening at ``start``."""
    i = start + 1
    if pattern[i:i + 1] == "^":
        i += 1
    if pattern[i:i + 1] == "]":
        i += 1
    depth = 1
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[" and nested_sets:
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(pattern)


def _group_depth(pattern: str) -> int:
    depth = deepest = 0
    escaped = False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            depth -= 1
    return deepest


def catastrophic(pattern: str) -> str | None:
    """Name the construct that makes a regex backtrack exponentially, if any.

    Refused: an unbounded repeat containing another unbounded repeat
    (``(a+)+``, ``(a*b?)*``), and an unbounded repeat over alternatives that can
    start with the same character (``(a|ab)*``).  Patterns Python's own parser
    cannot read (``regex``-only syntax) are left to the per-match timeout.
    """
    try:
        from re import _constants as sre
        from re import _parser as sre_parse  # type: ignore[attr-defined]

        parsed = sre_parse.parse(pattern)
    except Exception:  # regex-only syntax: the timeout bounds it
        return None
    big = sre.MAXREPEAT

    def unbounded(op, av) -> bool:
        return op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT) and av[1] in (big,) or (
            op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and av[1] > 10)

    def children(op, av):
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            return [av[2]]
        if op == sre.SUBPATTERN:
            return [av[3]]
        if op == sre.BRANCH:
            return list(av[1])
        if op in (sre.ATOMIC_GROUP,):
            return [av]
        if op in (sre.ASSERT, sre.ASSERT_NOT):
            return [av[1]]
        return []

    def first_chars(seq) -> set | None:
        """Literal first characters of a sequence; None when not simply known."""
        for op, av in seq:
            if op == sre.LITERAL:
                return {av}
            if op == sre.SUBPATTERN:
                return first_chars(av[3])
            if op == sre.BRANCH:
                out: set = set()
                for alt in av[1]:
                    got = first_chars(alt)
                    if got is None:
                        return None
                    out |= got
                return out
            return None
        return set()

    def walk(seq, inside_unbounded: bool) -> str | None:
        for op, av in seq:
            if op == sre.POSSESSIVE_REPEAT or op == sre.ATOMIC_GROUP:
                continue  # no backtracking into these
            is_unbounded = unbounded(op, av)
            if is_unbounded and inside_unbounded:
                return "a repeat inside a repeat"
            if is_unbounded:
                body = av[2]
                problem = _ambiguous_tail(body, first_chars)
                if problem:
                    return problem
                for bop, bav in body:
                    inner = bav[3] if bop == sre.SUBPATTERN else None
                    branch = None
                    if bop == sre.BRANCH:
                        branch = bav
                    elif inner is not None and len(inner) == 1 and inner[0][0] == sre.BRANCH:
                        branch = inner[0][1]
                    if branch is not None:
                        seen: set = set()
                        for alt in branch[1]:
                            got = first_chars(alt)
                            if got is None or got & seen:
                                return "repeated alternatives that can start alike"
                            seen |= got
            for child in children(op, av):
                found = walk(child, inside_unbounded or is_unbounded)
                if found:
                    return found
        return None

    try:
        return walk(parsed, False)
    except RecursionError:
        return "nested too deeply to analyse"


def _ambiguous_tail(body, first_chars) -> str | None:
    """``(a|aa)*`` reaches us factored as ``a(?:|a)*``: a trailing choice between
    nothing and something that starts like the body itself is ambiguous."""
    from re import _constants as sre  # type: ignore[attr-defined]

    seq = list(body)
    while len(seq) == 1 and seq[0][0] == sre.SUBPATTERN:
        seq = list(seq[0][1][3])
    if not seq or seq[-1][0] != sre.BRANCH:
        return None
    alternatives = seq[-1][1][1]
    if not any(len(alt) == 0 for alt in alternatives):
        return None
    start = first_chars(seq)
    for alt in alternatives:
        got = first_chars(alt) if len(alt) else set()
        if got is None or start is None or (got & start):
            return "repeated alternatives that can start alike"
    return None


# ---- can a condition ever be true? -------------------------------------------------

_MAX_CONJUNCTIONS = 256
_MAX_TESTS = 1_000
"""Conditions with more tests than this are not analysed (taken as satisfiable): the
conjunctions grow with the tests, and a flat chain of 200,000 would take hours."""


def _satisfiable(expr: s.Expr, lexicons: dict[str, CheckedLexicon]) -> bool:
    """False only when every way of making ``expr`` true contradicts itself."""
    if any(True for _ in itertools.islice(s.predicates(expr), _MAX_TESTS, None)):
        return True
    disjuncts = _dnf(expr, True)
    if disjuncts is None:
        return True
    return any(_consistent(conj, lexicons) for conj in disjuncts)


def _dnf(expr: s.Expr, positive: bool) -> list[list[tuple[s.Expr, bool]]] | None:
    if isinstance(expr, s.Not):
        return _dnf(expr.item, not positive)
    if isinstance(expr, (s.AnyOf, s.AllOf)):
        union = isinstance(expr, s.AnyOf) == positive
        parts = [_dnf(item, positive) for item in expr.items]
        if any(p is None for p in parts):
            return None
        if union:
            out = [conj for p in parts for conj in p]
        else:
            out = [[]]
            for p in parts:
                out = [a + b for a in out for b in p]
                if len(out) > _MAX_CONJUNCTIONS:
                    return None
        return out if len(out) <= _MAX_CONJUNCTIONS else None
    return [[(expr, positive)]]


_FLIP = {">": "<=", ">=": "<", "<": ">=", "<=": ">", "==": "!=", "!=": "=="}


def _quantity(literal: s.Expr, positive: bool):
    """(quantity key, op, value, floor) for numeric literals, else None."""
    if isinstance(literal, s.Has):
        key = ("count", literal.field, literal.lex, False)
        return key, (">=" if positive else "<"), 1.0, 0.0
    if isinstance(literal, s.CountHits):
        key = ("count", literal.field, literal.lex, literal.distinct)
    elif isinstance(literal, s.CountMatches):
        key = ("matches", literal.field, literal.regex)
    elif isinstance(literal, s.Contacts):
        key = ("contacts", literal.field, literal.kinds)
    elif isinstance(literal, s.Length):
        key = ("length", literal.field)
    elif isinstance(literal, s.Compare):
        key = ("fact", literal.field)
    else:
        return None
    op = literal.op if positive else _FLIP[literal.op]
    floor = None if isinstance(literal, s.Compare) else 0.0
    return key, op, literal.value, floor


def _consistent(conj: list[tuple[s.Expr, bool]], lexicons) -> bool:
    seen: dict[s.Expr, bool] = {}
    bounds: dict[tuple, list] = {}
    for literal, positive in conj:
        if seen.get(literal, positive) != positive:
            return False
        seen[literal] = positive
        q = _quantity(literal, positive)
        if q is None:
            continue
        key, op, value, floor = q
        lo, lo_strict, hi, hi_strict, excluded = bounds.setdefault(
            key, [floor if floor is not None else float("-inf"), False, float("inf"), False, set()])
        if key[0] == "count" and key[3]:  # distinct terms are bounded by the lexicon's size
            lex = lexicons.get(key[2].lexicon.text)
            if lex is not None:
                hi = min(hi, len({t.key for t in lex.terms}))
        if op in (">", ">="):
            if value > lo or (value == lo and op == ">"):
                lo, lo_strict = value, op == ">"
        elif op in ("<", "<="):
            if value < hi or (value == hi and op == "<"):
                hi, hi_strict = value, op == "<"
        elif op == "==":
            if value > lo or (value == lo and lo_strict):
                lo, lo_strict = value, False if value > lo else lo_strict
            if value < hi:
                hi, hi_strict = value, False
            if value in excluded:
                return False
        elif op == "!=":
            excluded.add(value)
        bounds[key] = [lo, lo_strict, hi, hi_strict, excluded]
        if lo > hi or (lo == hi and (lo_strict or hi_strict or lo in excluded)):
            return False
        if key[0] in ("count", "matches", "contacts", "length"):  # whole numbers only
            low_int = math.floor(lo) + 1 if lo_strict or lo != int(lo) else int(lo)
            high_int = math.ceil(hi) - 1 if hi != float("inf") and (hi_strict or hi != int(hi)) else hi
            if high_int != float("inf") and low_int > high_int:
                return False
    return True


def _closest(word: str, options: list[str]) -> str | None:
    found = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return found[0] if found else None


def check(files: list[s.PolicyFile], term_files: dict[tuple[str, str], TermFileText],
          ) -> tuple[CheckedPolicy, list[Diagnostic]]:
    """Check parsed files; returns the resolved policy and every diagnostic."""
    checker = _Checker(files, term_files)
    checked = checker.run()
    return checked, checker.diagnostics
