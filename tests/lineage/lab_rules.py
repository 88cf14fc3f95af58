"""What JupyterLab shows of a saved output when the notebook is not trusted.

Lab renders an untrusted output with the first *safe* MIME type it knows
(``text/html`` rank 50, ``text/markdown`` 60, ``text/latex`` 70, images 90, ``text/plain``
120); ``image/svg+xml``, JavaScript and widget views are unsafe and skipped. ``text/html``
goes through Lab's sanitizer (sanitize-html with the allowlist in
``packages/apputils/src/sanitizer.ts``): ``<svg>``, ``<style>`` and ``<script>`` are dropped,
``<img>`` keeps a ``data:`` URI, and inline ``style`` keeps only listed properties.

This module encodes the part of those rules our outputs use, so tests can assert that what
we save survives them.
"""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

#: Lab's safe renderers by preference (lowest rank first)
SAFE_MIME_ORDER = ("text/html", "text/markdown", "text/latex", "image/png", "text/plain")

#: tags of Lab's sanitizer allowlist that sqlweave may emit
ALLOWED_TAGS = frozenset(
    [
        "a",
        "b",
        "br",
        "code",
        "div",
        "em",
        "i",
        "img",
        "li",
        "ol",
        "p",
        "pre",
        "small",
        "span",
        "strong",
        "table",
        "tbody",
        "td",
        "th",
        "thead",
        "tr",
        "ul",
    ]
)
#: attributes allowed on every tag, and per tag
GLOBAL_ATTRS = frozenset({"class", "id", "style", "title", "dir", "lang"})
TAG_ATTRS = {
    "img": {"src", "alt", "width", "height", "align", "border"},
    "td": {"align", "colspan", "rowspan", "valign", "nowrap", "width", "height"},
    "th": {"align", "colspan", "rowspan", "valign", "nowrap", "width", "height", "scope"},
    "table": {"align", "border", "cellpadding", "cellspacing", "width"},
    "a": {"href", "name", "target", "rel"},
    "ol": {"start", "type"},
}
#: inline style properties with the value shapes our outputs use (Lab checks each by regex)
_LENGTH = r"(0|[+-]?(\d*\.)?\d+(px|em|rem|%))"
ALLOWED_STYLES = {
    "border-collapse": r"collapse|separate",
    "display": r"inline|block|inline-block|table|none",
    "font-size": rf"{_LENGTH}|small|smaller",
    "font-style": r"normal|italic|oblique",
    "font-weight": r"normal|bold|[1-9]00",
    "margin-top": _LENGTH,
    "max-width": rf"{_LENGTH}|none",
    "opacity": r"(1(\.0+)?|0(\.\d+)?)",
    "overflow-x": r"visible|hidden|scroll|auto",
    "padding": rf"({_LENGTH}\s*){{1,4}}",
    "text-align": r"left|right|center|justify",
    "vertical-align": r"baseline|top|middle|bottom",
    "white-space": r"normal|pre|nowrap|pre-wrap|pre-line",
    "color": r"#[0-9a-f]{3,8}",
}
#: elements the sanitizer removes together with their text
DROPPED_WITH_TEXT = frozenset({"script", "style", "textarea", "svg"})


def lab_renders_untrusted(data: dict) -> str | None:
    """The MIME type Lab shows for an untrusted output bundle."""
    return next((mime for mime in SAFE_MIME_ORDER if mime in data), None)


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"<{tag}> is removed")
            return
        for name, value in attrs:
            if name not in GLOBAL_ATTRS and name not in TAG_ATTRS.get(tag, ()):
                self.problems.append(f"{name}= on <{tag}> is removed")
            elif name == "style":
                self._style(tag, value or "")
            elif name == "src" and not (value or "").startswith(("data:image/", "https:")):
                self.problems.append(f"<{tag} src> is not a data URI")

    def _style(self, tag: str, style: str) -> None:
        for decl in filter(None, (d.strip() for d in style.split(";"))):
            prop, _, value = (p.strip() for p in decl.partition(":"))
            pattern = ALLOWED_STYLES.get(prop)
            if pattern is None or not re.fullmatch(pattern, value, re.IGNORECASE):
                self.problems.append(f"style {prop}:{value} on <{tag}> is removed")


def sanitizer_problems(html: str) -> list[str]:
    """What Lab's sanitizer would remove from ``html`` (empty when it survives whole)."""
    checker = _Checker()
    checker.feed(html)
    checker.close()
    return checker.problems


_IMG = re.compile(r"""<img\b[^>]*?\bsrc=["']data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)["']""")


def drawing(data: dict) -> str:
    """The SVG of a saved lineage output: its ``image/svg+xml``, else the HTML ``<img>``'s."""
    if "image/svg+xml" in data:
        return data["image/svg+xml"]
    return svg_in_html(data.get("text/html", ""))


def svg_in_html(html: str) -> str:
    """The SVG inside the data-URI ``<img>`` of ``html`` ('' if there is none)."""
    found = _IMG.search(html)
    return base64.b64decode(found.group(1)).decode("utf-8") if found else ""
