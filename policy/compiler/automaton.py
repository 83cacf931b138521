"""The policy's automaton as one flat buffer: what the compiled core scans, and what the cache holds.

pyahocorasick builds its trie out of millions of small objects; loading a cached 64k-term policy
meant unpickling all of them, and each scan call crosses into C and back for every hit.  This is the
same automaton over bytes (keys are UTF-8) as a handful of int32 arrays in one ``bytes`` value:

    header   b"PAC1", states, edges                       (3 × int32 after the magic)
    root     256 × int32: the state after each byte from the root (0: stay at the root)
    first    states + 1 × int32: state s's edges are edges[first[s]:first[s + 1]], sorted by byte
    labels   edges × int32: each edge's byte
    targets  edges × int32: each edge's state
    fail     states × int32: the longest proper suffix that is a state (Aho–Corasick's failure link)
    key      states × int32: the key number a state spells, or -1
    output   states × int32: the next state along the failure links that spells a key, or -1

States are numbered breadth first, so a failure or output link always goes to a lower number.

A scan reports (index of a key's last byte, key number) for every occurrence, by end, and at one
end longest key first: pyahocorasick's order, so either can stand in for the other.  Here the
buffer is built and read in pure Python (the reference); ``policy._core.scan`` reads it in C.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Iterable, Sequence

MAGIC = b"PAC1"
_HEADER = struct.Struct("<4sii")


def build_automaton(keys: Sequence[bytes]) -> bytes:
    """The flat automaton of ``keys``; key number i is ``keys[i]`` (the empty key is never found)."""
    children: list[dict[int, int]] = [{}]
    key_of = [-1]
    for number, key in enumerate(keys):
        state = 0
        for byte in key:
            nxt = children[state].get(byte)
            if nxt is None:
                nxt = len(children)
                children[state][byte] = nxt
                children.append({})
                key_of.append(-1)
            state = nxt
        if state and key_of[state] < 0:
            key_of[state] = number
    children, key_of = _breadth_first(children, key_of)
    states = len(children)
    fail = [0] * states
    output = [-1] * states
    for state in range(states):  # breadth first: the link of a state's parent is settled before it
        for byte, child in children[state].items():
            link = fail[state]
            while link and byte not in children[link]:
                link = fail[link]
            fail[child] = children[link].get(byte, 0) if state else 0
    for state in range(1, states):
        link = fail[state]
        output[state] = link if key_of[link] >= 0 else output[link]
    first = array("i", [0])
    labels, targets = array("i"), array("i")
    for state in range(states):
        for byte in sorted(children[state]):
            labels.append(byte)
            targets.append(children[state][byte])
        first.append(len(labels))
    root = array("i", [0] * 256)
    for byte, child in children[0].items():
        root[byte] = child
    parts: Iterable[array] = (root, first, labels, targets, array("i", fail), array("i", key_of), array("i", output))
    body = b"".join(_little_endian(part) for part in parts)
    return _HEADER.pack(MAGIC, states, len(labels)) + body


def _breadth_first(children: list[dict[int, int]], key_of: list[int]) -> tuple[list[dict[int, int]], list[int]]:
    """The trie's states renumbered breadth first, so that every failure and output link goes to a
    lower number (what lets a reader check in one pass that following them always ends)."""
    order = [0]
    for state in order:  # grows as it goes
        order.extend(children[state][byte] for byte in sorted(children[state]))
    number = {old: new for new, old in enumerate(order)}
    return ([{byte: number[child] for byte, child in children[old].items()} for old in order],
            [key_of[old] for old in order])


def _little_endian(part: array) -> bytes:
    if sys.byteorder == "big":  # pragma: no cover
        part = array("i", part)
        part.byteswap()
    return part.tobytes()


class FlatAutomaton:
    """A flat automaton's arrays, read back (the pure-Python scan; the C core reads the bytes)."""

    def __init__(self, buffer: bytes):
        magic, states, edges = _HEADER.unpack_from(buffer)
        if magic != MAGIC:
            raise ValueError("not a flat automaton")
        view = memoryview(buffer)[_HEADER.size:].cast("i")
        if len(view) != 256 + (states + 1) + 2 * edges + 3 * states:
            raise ValueError("a flat automaton of the wrong size")
        at = 0

        def take(n: int) -> Sequence[int]:
            nonlocal at
            part = view[at:at + n].tolist()
            at += n
            return part

        self.states, self.edges = states, edges
        self.root, self.first = take(256), take(states + 1)
        self.labels, self.targets = take(edges), take(edges)
        self.fail, self.key, self.output = take(states), take(states), take(states)

    def _goto(self, state: int, byte: int) -> int:
        """The state after ``byte`` from ``state`` by a trie edge, or -1."""
        if state == 0:
            return self.root[byte]
        labels = self.labels
        for edge in range(self.first[state], self.first[state + 1]):
            if labels[edge] == byte:
                return self.targets[edge]
        return -1

    def scan(self, data: bytes) -> list[tuple[int, int]]:
        """(end index, key number) of every key in ``data``: by end, longest first at one end."""
        found = []
        state = 0
        key, output, fail = self.key, self.output, self.fail
        for index, byte in enumerate(data):
            while True:
                nxt = self._goto(state, byte)
                if nxt >= 0:
                    state = nxt
                    break
                state = fail[state]
            hit = state if key[state] >= 0 else output[state]
            while hit > 0:
                found.append((index, key[hit]))
                hit = output[hit]
        return found
