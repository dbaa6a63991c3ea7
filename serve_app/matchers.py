"""Receiver label matchers as Alertmanager writes them: ``name="value"``, ``name!="value"``,
``name=~"regex"`` and ``name!~"regex"`` (``serve_app/receivers.py`` routes by them).

A regex is fully anchored, as in Alertmanager (``=~"crit.*"`` matches ``critical``, not ``not-critical``),
and compiled once, when the config is read. Alertmanager runs RE2, which is linear-time; Python's ``re``
backtracks, so a pattern that could backtrack without bound is refused at config time (the repo keeps
matching linear elsewhere too: ``alertsieve/override_scope.py``): at most ``MAX_PATTERN`` characters and
``MAX_QUANTIFIERS`` quantifiers, no backreferences or lookarounds, and no repeated group (``*``, ``+``,
``{}``) that holds a quantifier or an alternation (``(a+)+``, ``(a|aa)*``: the shapes of catastrophic
backtracking); an optional one (``(a|b)?``) is fine. A label
value over ``MAX_VALUE`` characters is not matched against a regex at all: the matcher reads as not
matching, and the alert falls to the catch-all receivers or to every receiver, so it is never lost.
An absent label reads as ``""``, as in Alertmanager.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

MAX_MATCHERS = 16
MAX_PATTERN = 256
MAX_QUANTIFIERS = 8
MAX_VALUE = 4096
LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")  # Prometheus label names; no nested quantifiers
Op = Literal["=", "!=", "=~", "!~"]
_OPS: tuple[Op, ...] = ("=~", "!~", "!=", "=")  # longest first


@dataclass(frozen=True)
class Matcher:
    name: str
    op: Op
    value: str
    pattern: re.Pattern[str] | None = None

    def matches(self, labels: Mapping[str, object]) -> bool:
        have = labels.get(self.name, "")
        text = have if isinstance(have, str) else ""
        if self.pattern is None:
            return (text == self.value) == (self.op == "=")
        if len(text) > MAX_VALUE:
            return False  # not evaluated: the alert goes to the catch-alls or everyone
        return (self.pattern.fullmatch(text) is not None) == (self.op == "=~")


def check_pattern(pattern: str) -> re.Pattern[str]:
    """The compiled pattern, or ValueError when it is too long or could backtrack without bound."""
    if len(pattern) > MAX_PATTERN:
        raise ValueError(f"regex over {MAX_PATTERN} characters")
    quantifiers = 0
    groups: list[list[bool]] = []  # per open group: [holds a quantifier or alternation]
    i, in_class, last_group_risky = 0, False, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if i + 1 < len(pattern) and pattern[i + 1].isdigit() and pattern[i + 1] != "0":
                raise ValueError("regex backreferences are not supported")
            i, last_group_risky = i + 2, False
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class, last_group_risky = True, False
        elif char == "(":
            if pattern.startswith(("(?=", "(?!", "(?<=", "(?<!", "(?P="), i):
                raise ValueError("regex lookarounds and backreferences are not supported")
            groups.append([False])
        elif char == ")":
            if not groups:
                raise ValueError("unbalanced parenthesis")
            last_group_risky = groups.pop()[0]
            if groups and last_group_risky:
                groups[-1][0] = True
            i += 1
            continue
        elif char in "*+?{":
            quantifiers += 1
            if last_group_risky and char != "?":  # an optional group is bounded; a repeated one is not
                raise ValueError("a quantified group holds a quantifier or alternation (catastrophic backtracking)")
            for group in groups:
                group[0] = True
        elif char == "|":
            for group in groups:
                group[0] = True
        last_group_risky = False
        i += 1
    if quantifiers > MAX_QUANTIFIERS:
        raise ValueError(f"regex with more than {MAX_QUANTIFIERS} quantifiers")
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"invalid regex: {exc}") from None


def parse_matcher(text: str) -> Matcher:
    """One matcher, ``name<op>"value"`` (the quotes are optional, as in Alertmanager)."""
    match = re.match(r"\s*([a-zA-Z_][a-zA-Z0-9_]{0,99})\s*(=~|!~|!=|=)\s*", text)
    if match is None:
        raise ValueError(f"matcher {text[:120]!r}: expected name=value, name!=value, name=~regex or name!~regex")
    name, op = match.group(1), match.group(2)
    value = text[match.end() :].strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
    return build(name, op, value)  # type: ignore[arg-type]


def build(name: str, op: Op, value: str) -> Matcher:
    if not LABEL_NAME.fullmatch(name) or len(name) > 100:
        raise ValueError(f"matcher name {name[:100]!r} is not a label name")
    if op not in _OPS:
        raise ValueError(f"matcher {name}: unknown operator {op!r}")
    pattern = check_pattern(value) if op in ("=~", "!~") else None
    return Matcher(name, op, value, pattern)


def parse_matchers(value: Mapping[str, str] | list[str]) -> tuple[Matcher, ...]:
    """A receiver's ``matchers``: a mapping (equality, the older form) or a list of Alertmanager matchers."""
    items = (
        [build(k, "=", v) for k, v in value.items()] if isinstance(value, Mapping) else list(map(parse_matcher, value))
    )
    if len(items) > MAX_MATCHERS:
        raise ValueError(f"at most {MAX_MATCHERS} matchers")
    return tuple(items)
