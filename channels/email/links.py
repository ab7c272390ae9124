"""The links of an email and its header values: which links are tracked (and where they
lead), how they are rewritten, and which values may stand in a header."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from html import escape, unescape

__all__ = [
    "LINE_BREAKS",
    "bad_link_targets",
    "has_line_break",
    "link_targets",
    "rewrite_links",
]

#: Every character that breaks a line somewhere: CR and LF end a header (an attacker's next
#: header), the others end a line for `str.splitlines` and for some mail software.
LINE_BREAKS = frozenset("\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029")

#: A web address in plain text: ASCII URL characters only, so Japanese text right after a
#: link ("https://shop.example.jp/をご覧ください") is not taken into it.
_TEXT_LINK = re.compile(r"https?://[A-Za-z0-9\-._~:/?#\[\]@!$&*+,;=%]+", re.IGNORECASE)
#: Punctuation that ends a sentence rather than the address it follows.
_TRAILING = ".,;:!?"
#: The target of an HTML link: an `href` attribute, quoted or not.
_HREF = re.compile(
    r"""\bhref\s*=\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s"'>]+))""",
    re.IGNORECASE,
)
_WEB = re.compile(r"https?://", re.IGNORECASE)
#: Browsers ignore ASCII whitespace and control characters inside a scheme ("java\tscript:").
_IGNORED_IN_SCHEME = re.compile(r"[\x00-\x20\x7f]")


def has_line_break(value: str) -> bool:
    """Whether `value` would break a header line."""
    return any(character in LINE_BREAKS for character in value)


def link_targets(content: Mapping[str, str]) -> list[str]:
    """The tracked links of rendered content, numbered from 0: those of `text` in order,
    then those of `html` (entities decoded)."""
    return [target for _, _, target in _text_links(content.get("text") or "")] + [
        target for _, _, target in _html_links(content.get("html") or "")
    ]


def rewrite_links(content: Mapping[str, str], tracked: Callable[[int], str]) -> dict[str, str]:
    """The content with link number n (as `link_targets` counts) replaced by `tracked(n)`."""
    rewritten = dict(content)
    number = 0
    for field, links in (("text", _text_links), ("html", _html_links)):
        source = content.get(field)
        if not source:
            continue
        parts: list[str] = []
        done = 0
        for start, end, _ in links(source):
            url = tracked(number)
            parts += [source[done:start], escape(url) if field == "html" else url]
            done = end
            number += 1
        rewritten[field] = "".join(parts) + source[done:]
    return rewritten


def bad_link_targets(html: str) -> list[str]:
    """The targets of HTML links that are not web addresses (`javascript:`, `data:`, ...);
    a target written as template markup is judged once it is rendered."""
    return [
        value
        for value in (_href_value(match) for match in _HREF.finditer(html))
        if not value.lstrip().startswith("{")
        and _WEB.match(_IGNORED_IN_SCHEME.sub("", unescape(value))) is None
    ]


def _text_links(text: str) -> list[tuple[int, int, str]]:
    found = []
    for match in _TEXT_LINK.finditer(text):
        url = match.group().rstrip(_TRAILING)
        found.append((match.start(), match.start() + len(url), url))
    return found


def _html_links(html: str) -> list[tuple[int, int, str]]:
    found = []
    for match in _HREF.finditer(html):
        group = next(name for name in ("dq", "sq", "bare") if match.group(name) is not None)
        target = unescape(match.group(group)).strip()
        if _WEB.match(target):
            found.append((match.start(group), match.end(group), target))
    return found


def _href_value(match: re.Match[str]) -> str:
    return next(value for value in match.group("dq", "sq", "bare") if value is not None)
