"""Checks of the report's opening shared by the stage tests: the answers section first
(HTML id ``answers``), then the contents, every answer and contents entry a link to a
heading that exists, in the Markdown and in its HTML twin."""

from __future__ import annotations

import re
from html.parser import HTMLParser


class _Anchors(HTMLParser):
    """Headings (tag, id) in order, every id, every in-page link, and the in-page links
    inside each list item of the answers section."""

    def __init__(self) -> None:
        super().__init__()
        self.headings: list[tuple[str, str | None]] = []
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.answer_items: list[list[str]] = []
        self._section: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append((tag, a.get("id")))
            self._section = a.get("id") if tag == "h2" else self._section
        if tag == "li" and self._section == "answers":
            self.answer_items.append([])
        href = a.get("href") or ""
        if tag == "a" and href.startswith("#"):
            self.links.append(href[1:])
            if self._section == "answers" and self.answer_items:
                self.answer_items[-1].append(href[1:])


def check_opening(md: str, html: str, questions: set[str]) -> None:
    """The report opens with its answers (each of ``questions`` among them, each with a
    link) and a contents list linking every section; every in-page link resolves."""
    h2 = [line for line in md.splitlines() if line.startswith("## ")]
    assert h2[:2] == ["## Answers", "## Contents"], h2[:3]
    answers = md.split("## Answers", 1)[1].split("## Contents", 1)[0]
    found = set(re.findall(r"^- \*\*(.+?)\.\*\*", answers, flags=re.M))
    assert questions <= found, (questions, found)
    assert "±" in answers or re.search(r"\[[-0-9.]+, [-0-9.]+\]", answers)  # SE or interval

    page = _Anchors()
    page.feed(html)
    tags = [(t, i) for t, i in page.headings if t == "h2"]
    assert tags[:2] == [("h2", "answers"), ("h2", "contents")], tags[:3]
    missing = [x for x in page.links if x not in page.ids]
    assert not missing, missing
    assert page.answer_items and all(items for items in page.answer_items)
    # The contents link every section (level 2 and 3) below it, in order.
    below = [
        i
        for t, i in page.headings[page.headings.index(("h2", "contents")) + 1 :]
        if t in ("h2", "h3")
    ]
    contents = page.links[sum(len(x) for x in page.answer_items) :][: len(below)]
    assert contents == below
