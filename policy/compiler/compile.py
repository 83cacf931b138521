"""Compile a checked policy into the immutable value the engine runs.

One Aho-Corasick automaton holds every term of every lexicon and allow list.
Keys are the UTF-8 bytes of the normalized term, spelled as a latin-1 string:
pyahocorasick walks a node's children linearly, and a 256-symbol alphabet is
several times faster to scan than thousands of distinct CJK first characters.
UTF-8 is self-synchronising, so a byte match of a whole key always starts and
ends on character boundaries.

Conditions become small programs (:mod:`policy.evaluate`); each rule also gets
its *trigger* (:mod:`policy.trigger`): the sets of cheap signals one of which
must be present for the rule to be true, so a rule needing a rare term and a
common context word stays asleep on posts with only the word.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import ahocorasick

from policy.compiler import conditions as cond
from policy.compiler.automaton import build_automaton
from policy.compiler.compiled import (
    CompiledBrake,
    CompiledFactor,
    CompiledLadder,
    CompiledLexicon,
    CompiledPolicy,
    CompiledRule,
    CompiledStep,
    Prefilter,
)
from policy.compiler.prefilter import Requirement, literal_rarity, match_width, required_literals
from policy.compiler.terms import build_table
from policy.compiler.trigger import Index, build_triggers
from policy.lang import syntax as s
from policy.lang.check import CheckedLexicon, CheckedPolicy, LoadedTerm, compile_regex
from policy.text.normalize import Profile, Table, is_word_char, normalize, normalize_with_map, table_for
from policy.text.variants import expand
from policy.text.words import ordinary as ordinary_words
from policy.text.words import segmenter

COMPILER_VERSION = "policy-compiler/11"


def version_of(contents: list[tuple[str, str]]) -> str:
    """The policy's version: a hash of every source text and the compiler's version."""
    digest = hashlib.sha256(COMPILER_VERSION.encode())
    for name, text in sorted(contents):
        digest.update(b"\0" + name.encode("utf-8", "surrogatepass") + b"\0")
        digest.update(text.encode("utf-8", "surrogatepass"))
    return "sha256:" + digest.hexdigest()[:16]


def compile_policy(checked: CheckedPolicy, version: str) -> CompiledPolicy:
    profiles: list[Profile] = []
    lexicons: list[CompiledLexicon] = []
    index_of = {name: i for i, name in enumerate(checked.lexicons)}
    terms: dict[str, list[tuple[int, str, frozenset[str], tuple[int, ...], bool]]] = {}  # key -> rows, by lexicon
    for i, (name, lex) in enumerate(checked.lexicons.items()):
        if lex.profile not in profiles:
            profiles.append(lex.profile)
        profile = profiles.index(lex.profile)
        suppresses = (frozenset(index_of[n] for n in lex.suppresses if n in index_of)
                      if lex.suppresses is not None else None)
        lexicons.append(CompiledLexicon(i, name, lex.decl.title or name, lex.is_allow, profile,
                                        lex.whole_words, lex.all_hits, suppresses))
        lexicon_tags = frozenset(t.text for t in lex.decl.tags)
        table = table_for(lex.profile)
        for term in lex.terms:
            rows = terms.get(term.key)
            tags = term.tags | lexicon_tags if term.tags else lexicon_tags
            if rows is None:
                terms[term.key] = [(i, term.text, tags, spaced_pairs(term.text, term.key, table), False)]
            elif rows[-1][0] == i:  # Ｂ and b are one term once normalized: one entry, their tags together
                rows[-1] = (i, rows[-1][1], rows[-1][2] | tags, rows[-1][3], False)
            else:
                rows.append((i, term.text, tags, spaced_pairs(term.text, term.key, table), False))
        if lex.expand:
            _add_variants(terms, i, lex, checked, table)

    regexes: list = []
    regex_index: dict[s.Regex, int] = {}
    rules: list[CompiledRule] = []
    scanned: set[str] = set()
    regex_fields: set[str] = set()
    ladder = _ladder(checked, index_of, regexes, regex_index, scanned, regex_fields) if checked.ladder else None
    step_index = {step.name: i for i, step in enumerate(ladder.steps)} if ladder else {}
    term_bytes: dict[str, bytes] = {}
    for r_index, rule in enumerate(checked.rules):
        assert rule.when is not None and rule.category is not None  # guaranteed by the checker
        category = checked.categories[rule.category.text]
        clauses = tuple((c.text, checked.clauses[c.text].text) for c in rule.clauses)
        rules.append(CompiledRule(
            index=r_index, id=rule.id.text, title=rule.title, category=category.name.text,
            category_title=category.title, clauses=clauses,
            severity=rule.severity if rule.severity is not None else category.severity or 1,
            mode=rule.mode.text if rule.mode else "enforce",
            action=rule.action.text if rule.action else "reject",
            tags=tuple(t.text for t in rule.tags),
            condition=_program(rule.when, index_of, regexes, regex_index, scanned, regex_fields),
            explain=rule.explain or "{title}：{evidence}",
            source=(rule.span.path, rule.span.line), examples=rule.examples,
            sanction_step=step_index[rule.sanction.text] if rule.sanction is not None else None,
            fingerprint=_fingerprint(rule, checked, term_bytes),
        ))
    literals = [required_literals(node.pattern, node.flags) for _, node in regexes]
    prefilter, normalized_literals = _prefilter([node for _, node in regexes], literals, regex_fields)
    if normalized_literals:  # the text pass that finds terms finds these literals too
        scanned |= regex_fields
        if Profile() not in profiles:
            profiles.append(Profile())
    bounded = tuple(lex.boundaries for lex in checked.lexicons.values())
    automaton, key_entries, key_literals, flat = _automaton(terms, normalized_literals, lexicons, bounded)
    triggers = build_triggers([r.condition for r in rules], [lit is not None for lit in literals],
                              _rarity(checked, index_of, literals))
    title = checked.convention.title if checked.convention else "policy"
    return CompiledPolicy(
        name=title, version=version, profiles=tuple(profiles), lexicons=tuple(lexicons), rules=tuple(rules),
        automaton=automaton, key_entries=key_entries, key_literals=key_literals, flat_automaton=flat,
        regexes=tuple(pattern for pattern, _ in regexes),
        prefilter=prefilter, scanned_fields=tuple(sorted(scanned)), triggers=triggers,
        clauses={cid: c.text for cid, c in checked.clauses.items()},
        categories={name: (c.title, tuple(ref.text for ref in c.clauses)) for name, c in checked.categories.items()},
        lexicon_index=index_of, ladder=ladder,
        refine_sets={lex.index: frozenset({lex.index} | {a.index for a in lexicons if a.is_allow and (
            a.suppresses is None or lex.index in a.suppresses)}) for lex in lexicons},
        brake=CompiledBrake(checked.brake.watch.amount, checked.brake.share, checked.brake.minimum)
        if checked.brake and checked.brake.watch and checked.brake.share and checked.brake.minimum else None,
        segmenter=segmenter() if uses_dictionary(checked) else None,
    )


def _fingerprint(rule: s.Rule, checked: CheckedPolicy, term_bytes: dict[str, bytes]) -> str:
    digest = hashlib.sha256(repr(rule).encode("utf-8", "surrogatepass"))  # reprs leave spans out
    names: set[str] = set()
    for node in s.predicates(rule.when) if rule.when is not None else ():
        if isinstance(node, (s.Has, s.CountHits)):
            names.add(node.lex.lexicon.text)
        elif isinstance(node, s.Near):
            names.update((node.first.lexicon.text, node.second.lexicon.text))
    allows = {lex.name for lex in checked.lexicons.values()  # allow lists that can suppress its lexicons
              if lex.is_allow and (lex.suppresses is None or names & set(lex.suppresses))}
    for name in sorted(names | allows):
        if name not in term_bytes:  # the bytes of repr((name, (key, tags))) per term, joined once per lexicon
            terms = sorted((t.key, tuple(sorted(t.tags)) if t.tags else ()) for t in checked.lexicons[name].terms)
            term_bytes[name] = "".join(f"({name!r}, ({key!r}, {tags!r}))" for key, tags in terms).encode(
                "utf-8", "surrogatepass")
        digest.update(term_bytes[name])
    return digest.hexdigest()[:16]


def _ladder(checked: CheckedPolicy, index_of, regexes, regex_index, scanned, regex_fields) -> CompiledLadder:
    decl = checked.ladder
    assert decl is not None

    def program(expr: s.Expr) -> cond.Node:
        return _program(expr, index_of, regexes, regex_index, scanned, regex_fields)

    steps = tuple(CompiledStep(st.name.text, st.title, st.action.text,
                               int(st.days) if st.days is not None else None,
                               st.action.text == "ban" or st.days is None) for st in decl.steps)
    index = {st.name: i for i, st in enumerate(steps)}
    return CompiledLadder(
        title=decl.title,
        clauses=tuple((c.text, checked.clauses[c.text].text) for c in decl.clauses),
        steps=steps,
        starts={start.severity: index[start.step.text] for start in decl.starts},
        escalate_days=decl.escalate.amount if decl.escalate else None,
        expire_days=decl.expire.amount if decl.expire else None,
        factors=tuple(CompiledFactor(f.name.text, f.title, f.raises, frozenset(t.text for t in f.tags),
                                     program(f.when) if f.when is not None else None) for f in decl.factors),
        holds=tuple((h.name.text, h.reason, program(h.when)) for h in decl.holds),
        confirms=tuple((c.reviewers, program(c.when)) for c in decl.confirms),
    )


def _tags(ref: s.LexRef) -> frozenset[str] | None:
    return frozenset(t.text for t in ref.tags) or None


def _program(expr: s.Expr, index_of: dict[str, int], regexes: list, regex_index: dict, scanned: set,
             regex_fields: set) -> cond.Node:
    def rx(node: s.Regex) -> int:
        if node not in regex_index:
            regex_index[node] = len(regexes)
            regexes.append((compile_regex(node), node))
        return regex_index[node]

    def rx_field(name: str, node: s.Regex) -> int:
        index = rx(node)
        regex_fields.add(name)
        return index

    def go(e: s.Expr) -> cond.Node:
        if isinstance(e, s.AnyOf):
            return cond.AnyOf(tuple(go(i) for i in e.items))
        if isinstance(e, s.AllOf):
            return cond.AllOf(tuple(go(i) for i in e.items))
        if isinstance(e, s.Not):
            return cond.Not(go(e.item))
        if isinstance(e, s.Has):
            scanned.add(e.field.text)
            return cond.Has(e.field.text, index_of[e.lex.lexicon.text], _tags(e.lex))
        if isinstance(e, s.Near):
            scanned.add(e.field.text)
            return cond.Near(e.field.text, index_of[e.first.lexicon.text], _tags(e.first),
                           index_of[e.second.lexicon.text], _tags(e.second), e.within)
        if isinstance(e, s.CountHits):
            scanned.add(e.field.text)
            return cond.CountHits(e.field.text, index_of[e.lex.lexicon.text], _tags(e.lex), e.op, e.value, e.distinct)
        if isinstance(e, s.Matches):
            return cond.Matches(e.field.text, rx_field(e.field.text, e.regex), e.regex.normalized, e.regex.pattern)
        if isinstance(e, s.CountMatches):
            return cond.CountMatches(e.field.text, rx_field(e.field.text, e.regex), e.regex.normalized,
                                   e.regex.pattern, e.op, e.value)
        if isinstance(e, s.Contacts):
            return cond.Contacts(e.field.text, frozenset(k.text for k in e.kinds) or None, e.op, e.value)
        if isinstance(e, s.Length):
            return cond.Length(e.field.text, e.op, e.value)
        if isinstance(e, s.Compare):
            return cond.Compare(e.field.text, e.op, e.value)
        if isinstance(e, s.Flag):
            return cond.Flag(e.field.text)
        raise AssertionError(f"unhandled condition {type(e).__name__}")

    return go(expr)


def _rarity(checked: CheckedPolicy, index_of: dict[str, int], literals: list) -> Callable[[tuple], tuple]:
    """How unlikely an ordinary post is to carry a signal, for picking the one to index a rule
    on: text signals by their shortest term or literal (one-character terms like 约 are
    everywhere), then fewer alternatives; facts after text (most posts carry them)."""
    terms = {index_of[name]: lex.terms for name, lex in checked.lexicons.items()}

    def rarity(key: tuple) -> tuple:
        kind, _, what = key
        if kind == "fact":
            return (0, what == "nonzero", 0)
        if kind == "lexicon":
            lexicon, tags = what
            keys = [t.key for t in terms[lexicon] if not tags or not t.tags.isdisjoint(tags)]
            return (1, min((len(k) for k in keys), default=0), -len(keys))
        alternatives = literals[what]
        return (1, min(max(literal_rarity(lit) for lit in a) for a in alternatives), -len(alternatives))

    return rarity


def _add_variants(terms: dict, index: int, lex: CheckedLexicon, checked: CheckedPolicy, table: Table) -> None:
    """The variants of each term of a lexicon that expands (:mod:`policy.variants`), as rows of
    the term they stand for, minus those that are ordinary words or lie inside one."""
    tables = [checked.variants[name] for name in lex.expand if name in checked.variants]
    own = {t.key for t in lex.terms}
    found: dict[str, tuple[LoadedTerm, frozenset[str], tuple[int, ...]]] = {}
    lexicon_tags = frozenset(t.text for t in lex.decl.tags)
    for term in lex.terms:
        tags = term.tags | lexicon_tags if term.tags else lexicon_tags
        for key, spaced in expand(term.key, tables, "pinyin" in lex.expand, "initials" in lex.expand,
                                  lambda text: normalize(text, table)):
            if key not in own and key not in found:
                found[key] = (term, tags, spaced)
    deny_terms = {t.key for other in checked.lexicons.values() if not other.is_allow for t in other.terms}
    for key in ordinary_words(found.keys() - deny_terms):
        del found[key]
    for key, (term, tags, spaced) in found.items():
        rows = terms.setdefault(key, [])
        if not rows or rows[-1][0] != index:
            rows.append((index, term.text, tags, spaced, True))


def uses_dictionary(checked: CheckedPolicy) -> bool:
    """Whether compiling the policy reads the word dictionary (its digest is then part of the version)."""
    return any(lex.expand or lex.boundaries for lex in checked.lexicons.values())


def spaced_pairs(text: str, key: str, table: Table) -> tuple[int, ...]:
    """The positions i of ``key`` where key[i] and key[i+1] are Latin letters or digits that the
    term's own text writes apart (``only fans``, ``roxy-man.ru``)."""
    if len(key) == len(text) or not any(is_word_char(ch) for ch in key):
        return ()
    mapped = normalize_with_map(text, table)
    return tuple(i for i in range(len(key) - 1) if is_word_char(key[i]) and is_word_char(key[i + 1])
                 and mapped.starts[i + 1] > mapped.end(i))


def _automaton(terms: dict[str, list[tuple[int, str, frozenset[str], tuple[int, ...], bool]]],
               literals: dict[str, int], lexicons: list[CompiledLexicon], bounded: tuple[bool, ...]):
    """The one automaton over normalized text (lexicon terms and normalized-regex literals) as
    UTF-8 bytes spelled as latin-1, with the term table and literals of each key number, and the
    same automaton as a flat buffer."""
    by_bytes = {key.encode("utf-8", "surrogatepass").decode("latin-1"): key for key in terms.keys() | literals.keys()}
    order = sorted(by_bytes)
    keys = [by_bytes[b] for b in order]
    table = build_table(keys, (terms.get(key, ()) for key in keys),
                        tuple(lex.profile for lex in lexicons), tuple(lex.whole_words for lex in lexicons),
                        bounded)
    if not order:
        return None, table, (), b""
    automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
    for number, byte_key in enumerate(order):
        automaton.add_word(byte_key, number)
    automaton.make_automaton()
    flat = build_automaton([byte_key.encode("latin-1") for byte_key in order])
    return (automaton, table, tuple((literals[by_bytes[b]],) if by_bytes[b] in literals else () for b in order),
            flat)


def _prefilter(nodes: list[s.Regex], requirements: list[Requirement | None],
               fields: set[str]) -> tuple[Prefilter, dict[str, int]]:
    """Every required literal is a signal.  Literals of normalized regexes are looked for by
    the main automaton (returned: key -> signal); the others by one automaton over the
    case-folded original text, with case-folded keys: a literal in the text is there once
    both are folded, so folding only ever finds more (which is safe for a filter).  Each
    regex waits, in an :class:`Index`, for one of its alternatives to be present."""
    numbers: dict[tuple[bool, str], int] = {}
    alternatives: list[list[frozenset[int]]] = []
    for node, requirement in zip(nodes, requirements, strict=True):
        if requirement is None:
            alternatives.append([frozenset()])
            continue
        alternatives.append([frozenset(numbers.setdefault(_literal_key(node, literal), len(numbers))
                                       for literal in a) for a in requirement])
    original = ahocorasick.Automaton(ahocorasick.STORE_INTS)
    normalized: dict[str, int] = {}
    original_keys = [b""] * len(numbers)  # by literal number; b"" (never found): a normalized one
    for (is_normalized, literal), number in numbers.items():
        if is_normalized:
            normalized[literal] = number
        else:
            original_keys[number] = literal.encode("utf-8", "surrogatepass")
            original.add_word(original_keys[number].decode("latin-1"), number)
    if len(original):
        original.make_automaton()
    rare = {number: literal_rarity(literal) for (_, literal), number in numbers.items()}
    windows = []
    for node, sets in zip(nodes, alternatives, strict=True):
        width = match_width(node.pattern, node.flags) if all(sets) else None
        if width is None:
            windows.append(None)
            continue
        # every match holds all the literals of one alternative, so the rarest of each will do
        windows.append((frozenset(max(sorted(a), key=lambda n: (rare[n], -n)) for a in sets), *width))
    texts = [""] * len(numbers)
    for (_, literal), number in numbers.items():
        texts[number] = literal
    prefilter = Prefilter(original if len(original) else None, tuple(requirements), tuple(sorted(fields)),
                          Index.build(alternatives, lambda n: (rare[n], -n)), tuple(windows), tuple(texts),
                          build_automaton(original_keys) if len(original) else b"")
    return prefilter, normalized


def _literal_key(node: s.Regex, literal: str) -> tuple[bool, str]:
    return (True, literal) if node.normalized else (False, literal.casefold())
