"""Just enough PromQL reading to check which series a query refers to.

``series_in(expr)`` returns the metric names an expression selects, so that the SLO file, the
dashboards and the Grafana alert rules can be checked against the metrics alertsieve exports
(``alertsieve.metric_names``) and the recording rules generated here. It is a lexical scan, not a
parser: string literals, label matchers, range selectors and grouping clauses are blanked out, and
what is left that looks like an identifier, is not a keyword and is not called like a function is a
series name. ``add_matchers`` scopes every selector of a scraped series (``ray_*``) to extra label
matchers (the dashboards' ``$cluster``/``$namespace``/``$job`` variables).
"""

from __future__ import annotations

import re

_STRINGS = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGES = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_OFFSET = re.compile(r"\boffset\s+-?[0-9a-z]+")
_IDENT = re.compile(r"(?<![\w.:])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?")
_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "offset",
        "inf",
        "nan",
        "Inf",
        "NaN",
    }
)
# A Sloth-style template variable, replaced by each rule window.
WINDOW_VAR = "{{.window}}"


def series_in(expr: str) -> set[str]:
    """Metric names selected by a PromQL expression (function and keyword names excluded)."""
    text = expr.replace(WINDOW_VAR, "5m")
    text = _STRINGS.sub('""', text)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _OFFSET.sub(" ", text)
    found: set[str] = set()
    for match in _IDENT.finditer(text):
        name, call = match.group(1), match.group(2)
        if call or name in _KEYWORDS:
            continue
        if re.fullmatch(r"[0-9.]*[eE][0-9]*", name):
            continue
        found.add(name)
    return found


_SCRAPED_SELECTOR = re.compile(r"(?<![\w:])(ray_[A-Za-z0-9_:]*)(\{[^{}]*\})?")


def add_matchers(expr: str, matchers: str) -> str:
    """``expr`` with ``matchers`` added to the selector of every scraped series (names ``ray_*``); the
    recorded ``slo:*`` series, which aggregate those labels away, are left as they are."""
    if not matchers:
        return expr

    def scoped(match: re.Match[str]) -> str:
        inner = (match.group(2) or "{}")[1:-1].strip().rstrip(",")
        return f"{match.group(1)}{{{inner + ', ' if inner else ''}{matchers}}}"

    return _SCRAPED_SELECTOR.sub(scoped, expr)


def label_values(expr: str, label: str) -> set[str]:
    """Values that ``label="..."`` matchers in ``expr`` compare against (equality matchers only)."""
    return set(re.findall(rf'\b{re.escape(label)}\s*=\s*"([^"]*)"', expr))


def is_balanced(expr: str) -> bool:
    """Whether parentheses, brackets and braces in ``expr`` (outside strings) pair up."""
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    for char in _STRINGS.sub('""', expr.replace(WINDOW_VAR, "5m")):
        if char in "([{":
            stack.append(char)
        elif char in pairs:
            if not stack or stack.pop() != pairs[char]:
                return False
    return not stack
