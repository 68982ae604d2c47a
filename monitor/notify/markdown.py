"""Text from outside made inert for Markdown readers (Teams' cards, Apprise's Markdown services).

Only what those renderers act on is escaped (CommonMark backslash escapes), so ordinary
Dutch text ("Informatie- en …", "(ICT)") reads as it is: emphasis, links, code and HTML
characters anywhere, and list, heading and quote markers at the start of a line.
``{{DATE(…)}}`` (a Teams function) and ``${…}`` (Adaptive Card templating) are broken
with a zero-width space.
"""

from __future__ import annotations

import re

from .clean import trim

_MARKDOWN = re.compile(r"([\\`*_\[\]~<>])")
_LINE_START = re.compile(r"^(?:([-+#>])|(\d+)\.(?=\s))")


def _unbrace(text: str) -> str:
    return text.replace("{{", "{\u200b{").replace("${", "$\u200b{")


def md(text: str, limit: int = 2000) -> str:
    """``text`` (one line) made inert, at most about ``limit`` characters before escaping."""
    text = _MARKDOWN.sub(r"\\\1", trim(text, limit))
    return _unbrace(_LINE_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\.", text))


def md_link(url: str, label: str) -> str:
    """``[label](url)`` for a URL from ``safe_url`` (parentheses encoded so the link cannot end early)."""
    return f"[{md(label, 200)}]({url.replace('(', '%28').replace(')', '%29')})"


def code(text: str) -> str:
    """``text`` as inline code, to be copied as it is (nothing inside a code span is Markdown)."""
    return "`" + _unbrace(trim(text, 300).replace("`", "'")) + "`"
