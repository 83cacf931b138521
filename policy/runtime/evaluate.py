"""Evaluate compiled conditions against one post.

Each condition node answers ``test(ctx)``; once a rule has fired,
``collect(ctx, out)`` gathers the evidence of the parts that made it true (never
from under a ``not``).  The context scans each text field once, lazily, and
caches regex results, so a rule pays only for what it reads.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from policy.model.hits import ContactHit, RegexHit
from policy.runtime.core import literal_scanner_for, normalize_for, normalized_for
from policy.runtime.match import RawHits, raw_literals, raw_scan, refine
from policy.text.contacts import contact_table, find_contacts
from policy.text.normalize import DEFAULT_PROFILE, casefold_table, mapped_text, table_for

if TYPE_CHECKING:
    from policy.compiler.compiled import CompiledPolicy
    from policy.model.hits import Hit
    from policy.model.post import Post



@dataclass
class Context:
    policy: CompiledPolicy
    post: Post
    regex_timeout: float
    regex_budget: float = math.inf
    """Seconds all regexes together may spend on this post (``regex_timeout`` bounds each one)."""
    regex_spent: float = 0.0
    raw: dict = field(default_factory=dict)
    """The automaton's raw hits by field (match.raw_scan), see :meth:`scan`."""
    hits: dict[tuple[str, int, frozenset[str] | None], list[Hit]] = field(default_factory=dict)
    """Real hits by (field, lexicon, tags), refined lazily from ``raw`` (only what a rule reads)."""
    normalized: dict = field(default_factory=dict)
    """Normalized text by (field, profile), shared by the scan and normalized regexes."""
    mapped: dict = field(default_factory=dict)
    """Offset maps by (field, profile), built only when something hit."""
    regex_cache: dict = field(default_factory=dict)
    present: dict = field(default_factory=dict)
    """By field, the regexes that may match it (one of their literals is there)."""
    literals: dict = field(default_factory=dict)
    """By field, the numbers of the regex literals the automata found in it."""
    folded: dict = field(default_factory=dict)
    """By field, its case-folded text, when a regex runs on windows (see :meth:`_folded`)."""
    found_contacts: dict = field(default_factory=dict)
    """By field, its contacts (found on first use)."""
    warnings: list[str] = field(default_factory=list)

    def with_post(self, post: Post) -> Context:
        """The same context for a post with the same texts and other facts (the ladder adds the
        facts of the sanction being decided): the scans and hits found so far are shared.  A
        shallow copy of the attributes; ``dataclasses.replace`` costs several times more."""
        other = object.__new__(Context)
        other.__dict__.update(self.__dict__)
        other.post = post
        return other

    def scan(self, name: str) -> RawHits:
        """The automaton's raw hits in a field (computed once per field and check)."""
        raw = self.raw.get(name)
        if raw is None:
            raw = self.raw[name] = raw_scan(self.policy, name, self.post.text(name), self.normalized)
        return raw

    def regexes_possible(self, name: str) -> set[int]:
        """The regexes that may match a field: all the literals of one of their alternatives
        are there, or they require none (computed once per field and check)."""
        found = self.present.get(name)
        if found is None:
            prefilter = self.policy.prefilter
            literals = raw_literals(self.policy, self.scan(name))
            text = self.post.text(name)
            scanner = literal_scanner_for(self.policy) if text else None
            if scanner is not None:
                found = scanner.scan_text(casefold_table(), text, {}, None)
                if found is not None:
                    literals.update(found[2])
            self.literals[name] = literals
            found = self.present[name] = prefilter.regexes.candidate_set(literals)
        return found

    def _windows(self, index: int, name: str, subject: str, normalized: bool) -> list[list[int]] | None:
        """Where a match of a regex may start: around each occurrence of the rarest literal of one
        of its alternatives (every match holds all of one alternative's), as merged [first, last]
        start positions; None: run on the whole text (the regex's width is unbounded, or windows
        would cover most of the text)."""
        prefilter = self.policy.prefilter
        spec = prefilter.windows[index] if prefilter.windows else None
        if spec is None:
            return None
        numbers, width, ahead = spec
        hay = subject if normalized else self._folded(name)  # the text the literals are found in
        if hay is None:
            return None
        literals = prefilter.literal_texts
        present = numbers & self.literals[name]  # the automata found these; a match holds one of them
        most = len(subject) // (width + ahead + 1)  # with more occurrences, windows would cover the text
        if sum(hay.count(literals[n]) for n in present) > most:
            return None
        occurrences = []
        for n in present:
            literal = literals[n]
            at = hay.find(literal)
            while at >= 0:
                occurrences.append((at, at + len(literal)))
                at = hay.find(literal, at + 1)
        windows: list[list[int]] = []
        for start, end in sorted(occurrences):  # a match holding the literal starts in [end - width, start]
            first = max(0, end - width)
            if windows and first <= windows[-1][1] + width:  # close to the last window: one run
                windows[-1][1] = max(windows[-1][1], start)
            else:
                windows.append([first, start])
        return windows

    def _folded(self, name: str) -> str | None:
        """The case-folded text of a field (where original-text literals are looked for), or None
        when folding changed its length, so that positions there are not positions in the text."""
        if name not in self.folded:
            text = self.post.text(name)
            folded = text.casefold()
            self.folded[name] = folded if len(folded) == len(text) else None
        return self.folded[name]

    def contacts(self, name: str) -> list[ContactHit]:
        """The contacts in a field, found once per check and only when a rule reads them."""
        found = self.found_contacts.get(name)
        if found is None:
            text = self.post.text(name)
            folded = normalize_for(self.policy, text, contact_table()) if text else ""
            found = self.found_contacts[name] = [ContactHit(name, *c) for c in find_contacts(text, folded)]
        return found

    def lexicon_hits(self, name: str, lexicon: int, tags: frozenset[str] | None) -> list[Hit]:
        """Real hits of one lexicon (with one of ``tags``, when given) in a field, refined from
        the raw hits on first use (only that lexicon's and the allow lists that can suppress
        it).  The list is shared: callers must not change it."""
        found = self.hits.get((name, lexicon, tags))
        if found is None:
            raw = self.scan(name)
            if not raw or lexicon not in raw.spans(self.policy):
                found = []  # not one raw hit of the lexicon: nothing to refine (most tests of a rule)
            elif tags is None:
                found = refine(self.policy, name, self.post.text(name), raw, self.mapped,
                               only=self.policy.refine_sets[lexicon], normalized=self.normalized).get(lexicon, [])
            else:
                found = [h for h in self.lexicon_hits(name, lexicon, None) if h.tags & tags]
            self.hits[(name, lexicon, tags)] = found
        return found

    def regex_hits(self, name: str, index: int, normalized: bool, pattern: str) -> list[RegexHit]:
        key = (name, index, normalized)
        if key in self.regex_cache:
            return self.regex_cache[key]
        text = self.post.text(name)
        out: list[RegexHit] = []
        if text:
            table = table_for(DEFAULT_PROFILE)
            subject = normalized_for(self.policy, text, table, self.normalized, (name, DEFAULT_PROFILE)) \
                if normalized else text
            if index not in self.regexes_possible(name):
                self.regex_cache[key] = out
                return out  # none of the literals every match needs: the regex cannot match
            spans = self._run_regex(index, subject, name, pattern, self._windows(index, name, subject, normalized))
            if spans and normalized:
                m = mapped_text(text, table, self.mapped, (name, DEFAULT_PROFILE), self.normalized)
                spans = [m.original_span(a, b) for a, b in spans]
            out = [RegexHit(name, a, b, pattern, normalized) for a, b in spans]
        self.regex_cache[key] = out
        return out

    def _run_regex(self, index: int, subject: str, name: str, pattern: str,
                   windows: list[list[int]] | None = None) -> list[tuple[int, int]]:
        """Non-empty match spans, within this regex's timeout and what is left of the post's budget;
        a regex cut off counts as no match and leaves a warning (the post goes to review).

        With ``windows`` (see :meth:`_windows`), only matches starting in them are looked for,
        each run reading no further than a match starting there could look: the same matches
        as a run over the whole text, since every match holds a literal and so starts in one."""
        left = self.regex_budget - self.regex_spent
        if left <= 0:
            self.warnings.append(f"regex /{pattern}/ on {name} not run: the post's regex budget of "
                                 f"{self.regex_budget * 1000:.0f} ms is spent; treated as no match")
            return []
        timeout = min(self.regex_timeout, left)
        started = time.perf_counter()
        regex = self.policy.regexes[index]
        try:
            if windows is None:
                return [m.span() for m in regex.finditer(subject, timeout=timeout) if m.end() > m.start()]
            _, width, ahead = self.policy.prefilter.windows[index]
            spans: list[tuple[int, int]] = []
            reach = 0  # matches do not overlap: the next one starts where the last one ended
            for first, last in windows:
                remaining = timeout - (time.perf_counter() - started)  # the timeout covers all windows
                if remaining <= 0:
                    raise TimeoutError
                for m in regex.finditer(subject, max(first, reach), last + width + ahead, timeout=remaining):
                    if m.start() > last:
                        break  # starts past the window: found again, in full, by the next window
                    if m.end() > m.start():
                        spans.append(m.span())
                    reach = m.end()
            return spans
        except TimeoutError:
            self.warnings.append(f"regex /{pattern}/ on {name} timed out after {timeout * 1000:.0f} ms; "
                                 "treated as no match")
            return []
        finally:
            self.regex_spent += time.perf_counter() - started


