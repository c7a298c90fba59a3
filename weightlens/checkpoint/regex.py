"""Regular expressions from untrusted files, matched in time linear in the subject.

PEFT's ``rank_pattern``/``alpha_pattern`` keys are Python regular expressions, and Python's
backtracking ``re`` takes exponential time on patterns such as ``(a+)+b`` (no timeout exists).
:func:`compile_linear` parses a pattern with Python's own parser (so syntax, flags and
character classes are exactly those of ``re``) and runs it as a Thompson NFA instead: the set of
states alive after each character, never a backtrack, with the state sets cached as a lazily
built DFA. For a yes/no answer at the start of the subject (``re.match(...) is not None``) that
is the same answer, since greedy and lazy repeats accept the same strings.

Constructs whose meaning needs backtracking — backreferences, conditional groups, lookarounds,
atomic groups, possessive repeats — are rejected, as are patterns whose expanded automaton is
large (``x{5000}``). Each single-character item and each anchor is compiled by ``re`` alone
(it cannot backtrack) and asked about one character or one position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from re import _compiler, _parser  # type: ignore[attr-defined]  # re's private modules: typeshed does not declare them
from re import _constants as C  # type: ignore[attr-defined]  # as above
from typing import Any

MAX_PATTERN = 256
"""Longest pattern accepted (characters)."""
MAX_STATES = 2000
"""Largest automaton accepted, counted after repeats are expanded."""
MAX_SUBJECT = 1024
"""Longest string matched (characters): bounds the work per match to MAX_SUBJECT × MAX_STATES."""
_MAX_DEPTH = 64
_MAX_WORK = 20 * MAX_STATES

_NOT_REGULAR = {
    C.GROUPREF: "a backreference",
    C.GROUPREF_EXISTS: "a conditional group",
    C.ASSERT: "a lookaround",
    C.ASSERT_NOT: "a lookaround",
    C.ATOMIC_GROUP: "an atomic group",
    C.POSSESSIVE_REPEAT: "a possessive repeat",
}
_ONE_CHAR = {C.LITERAL, C.NOT_LITERAL, C.ANY, C.IN}
_CHAR, _ASSERT, _SPLIT, _ACCEPT = range(4)


class RegexRejected(ValueError):
    """A pattern that cannot be matched in linear time, or that is too large; the message says why."""


@dataclass
class _State:
    kind: int
    test: re.Pattern[str] | None = None
    out: list[int] = field(default_factory=list)


class _Builder:
    """Thompson construction over the parse tree, built back to front (each item gets its continuation)."""

    def __init__(self, parsed: Any) -> None:
        self.parsed = parsed
        self.states: list[_State] = [_State(_ACCEPT)]
        self.work = 0

    def add(self, kind: int, test: re.Pattern[str] | None = None, out: list[int] | None = None) -> int:
        if len(self.states) >= MAX_STATES:
            raise RegexRejected(f"its automaton exceeds {MAX_STATES} states once repeats are expanded")
        self.states.append(_State(kind, test, out or []))
        return len(self.states) - 1

    def alone(self, op: Any, av: Any, flags: tuple[tuple[int, int], ...]) -> re.Pattern[str]:
        """One item compiled by ``re`` on its own, inside the inline-flag groups that enclose it."""
        sub = _parser.SubPattern(self.parsed.state, [(op, av)])
        for add, remove in reversed(flags):
            sub = _parser.SubPattern(self.parsed.state, [(C.SUBPATTERN, (None, add, remove, sub))])
        return _compiler.compile(sub)  # type: ignore[no-any-return]  # re._compiler is untyped; compile returns a Pattern

    def seq(self, items: Any, nxt: int, flags: tuple[tuple[int, int], ...], depth: int) -> int:
        if depth > _MAX_DEPTH:
            raise RegexRejected(f"it nests groups and repeats more than {_MAX_DEPTH} deep")
        for op, av in reversed(list(items)):
            nxt = self.item(op, av, nxt, flags, depth)
        return nxt

    def item(self, op: Any, av: Any, nxt: int, flags: tuple[tuple[int, int], ...], depth: int) -> int:
        self.work += 1
        if self.work > _MAX_WORK:
            raise RegexRejected("its repeats expand to too many items")
        if op in _NOT_REGULAR:
            raise RegexRejected(f"it uses {_NOT_REGULAR[op]}, which only a backtracking matcher can run")
        if op in _ONE_CHAR:
            return self.add(_CHAR, self.alone(op, av, flags), [nxt])
        if op is C.AT:
            return self.add(_ASSERT, self.alone(op, av, flags), [nxt])
        if op is C.BRANCH:
            return self.add(_SPLIT, out=[self.seq(b, nxt, flags, depth + 1) for b in av[1]])
        if op is C.SUBPATTERN:
            _group, add, remove, body = av
            return self.seq(body, nxt, (*flags, (add, remove)) if add or remove else flags, depth + 1)
        if op in (C.MAX_REPEAT, C.MIN_REPEAT):  # greedy or lazy: the same strings match
            return self.repeat(av, nxt, flags, depth + 1)
        raise RegexRejected(f"it uses {op}, which weightlens does not match")

    def repeat(self, av: Any, nxt: int, flags: tuple[tuple[int, int], ...], depth: int) -> int:
        lo, hi, body = av
        if lo > MAX_STATES or (hi is not C.MAXREPEAT and hi > MAX_STATES):
            raise RegexRejected(f"it repeats an item more than {MAX_STATES} times")
        tail = nxt
        if hi is C.MAXREPEAT:
            tail = self.add(_SPLIT)
            self.states[tail].out = [self.seq(body, tail, flags, depth), nxt]
        else:
            for _ in range(hi - lo):
                tail = self.add(_SPLIT, out=[self.seq(body, tail, flags, depth), nxt])
        for _ in range(lo):
            tail = self.seq(body, tail, flags, depth)
        return tail


class LinearPattern:
    """A compiled pattern whose :meth:`match` runs in O(len(subject) · states), no backtracking."""

    def __init__(self, source: str, max_length: int = MAX_PATTERN) -> None:
        if len(source) > max_length:  # before parsing: Python's parser recurses once per nested group
            raise RegexRejected(f"it is {len(source)} characters long, more than {max_length}")
        try:
            parsed = _parser.parse(source)
        except re.error as e:
            raise RegexRejected(f"it is not a regular expression ({e})") from None
        builder = _Builder(parsed)
        self.source = source
        self._start = builder.seq(parsed, 0, (), 0)
        self._states = builder.states
        self._asserts = [i for i, s in enumerate(self._states) if s.kind == _ASSERT]
        self._steps: dict[tuple[frozenset[int], str], frozenset[int]] = {}
        self._closures: dict[tuple[frozenset[int], tuple[bool, ...]], frozenset[int]] = {}

    def __reduce__(self) -> tuple[type[LinearPattern], tuple[str]]:
        return (LinearPattern, (self.source,))  # the items' compiled ``re`` objects have no source to pickle

    def _closure(self, states: frozenset[int], s: str, i: int) -> frozenset[int]:
        """The states reachable without consuming a character, anchors evaluated at position i."""
        holds = tuple(self._states[a].test.match(s, i) is not None for a in self._asserts)  # type: ignore[union-attr]  # assert states carry a test pattern
        key = (states, holds)
        if key not in self._closures:
            truth = dict(zip(self._asserts, holds))
            seen: set[int] = set()
            todo = list(states)
            while todo:
                k = todo.pop()
                if k in seen:
                    continue
                seen.add(k)
                st = self._states[k]
                if st.kind == _SPLIT or (st.kind == _ASSERT and truth[k]):
                    todo.extend(st.out)
            self._closures[key] = frozenset(k for k in seen if self._states[k].kind in (_CHAR, _ACCEPT))
        return self._closures[key]

    def _step(self, states: frozenset[int], c: str) -> frozenset[int]:
        key = (states, c)
        if key not in self._steps:
            self._steps[key] = frozenset(self._states[k].out[0] for k in states if self._states[k].kind == _CHAR and self._states[k].test.match(c))  # type: ignore[union-attr]  # _CHAR states carry a test pattern
        return self._steps[key]

    def match(self, subject: str) -> bool:
        """``re.match(source, subject) is not None``, in linear time.

        Raises
        ------
        RegexRejected
            When the subject is longer than MAX_SUBJECT characters.
        """
        if len(subject) > MAX_SUBJECT:
            raise RegexRejected(f"a name of {len(subject)} characters is longer than the {MAX_SUBJECT} matched against patterns")
        if len(self._steps) + len(self._closures) > 50_000:  # the cached DFA is bounded; start afresh
            self._steps.clear()
            self._closures.clear()
        current = self._closure(frozenset([self._start]), subject, 0)
        for i, c in enumerate(subject):
            if 0 in current:  # state 0 accepts
                return True
            current = self._step(current, c)
            if not current:
                return False
            current = self._closure(current, subject, i + 1)
        return 0 in current
