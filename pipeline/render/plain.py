"""The plain-text part's own writing: the editor's Markdown as text a person reads
(emphasis dropped, links as numbered references after their paragraph, lists as "- "
lines) and wrapping that never breaks a URL. Pure."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.token import Token

WIDTH = 76  # plus the reader's quoting ("> ") stays under 80 columns
SAFE_SCHEMES = ("https://", "http://", "mailto:")
# Joins a reference to the word before it while wrapping ("meeting [1]" never breaks
# before "[1]"); a space again once wrapped. A private-use character: no note has one.
_TIE = "\ue000"

# The note's Markdown, one parser for both parts (so both read the same): raw HTML off;
# the HTML part then passes the email allowlist.
MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": True})


def wrap_lines(text: str, width: int, first: str = "", rest: str = "") -> list[str]:
    """`text` wrapped at spaces only: a URL (or any word longer than the line) is never
    split, it goes on a line of its own; hyphenated words stay whole."""
    lines = textwrap.wrap(text, width, initial_indent=first, subsequent_indent=rest,
                          break_long_words=False, break_on_hyphens=False)
    return lines or [first.rstrip()]


def wordwrap(value: str, width: int = 79, break_long_words: bool = False,
             wrapstring: str | None = None, break_on_hyphens: bool = False) -> str:
    """Jinja's `wordwrap` (same arguments, so templates written for Jinja's keep working)
    for the text part, where nothing may split a URL: by default each line of `value`
    wrapped at spaces only, lines joined with `wrapstring`."""
    joiner = "\n" if wrapstring is None else wrapstring
    return joiner.join(joiner.join(textwrap.wrap(line, width,
                                                 break_long_words=break_long_words,
                                                 break_on_hyphens=break_on_hyphens))
                       for line in str(value).splitlines())


def markdown_to_text(markdown: str, width: int = WIDTH) -> str:
    """"Join us **now** at [the meeting](https://x.org/m)." ->
    "Join us now at the meeting [1].\\n[1] https://x.org/m"."""
    if not markdown.strip():
        return ""
    return _TextWriter(width).write(MARKDOWN.parse(markdown))


class _TextWriter:
    """One pass over markdown-it's block tokens. A top-level block (a paragraph, a whole
    list, a quote) is written, then the references its links got."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.blocks: list[str] = []
        self.lines: list[str] = []
        self.references: list[tuple[int, str]] = []
        self.numbers: dict[str, int] = {}
        self.depth = 0
        self.counters: list[int | None] = []  # per open list: next number, None if bullets
        self.indents: list[str] = []  # per open list item: its content's indent
        self.marker: str | None = None  # the open item's "- " until its first line
        self.quotes = 0

    def write(self, tokens: Sequence[Token]) -> str:
        for token in tokens:
            self.depth += token.nesting
            self.block(token)
            if self.depth == 0 and token.nesting <= 0:
                self.flush()
        return "\n\n".join(self.blocks)

    def block(self, token: Token) -> None:
        kind = token.type
        if kind == "bullet_list_open":
            self.counters.append(None)
        elif kind == "ordered_list_open":
            start = token.attrs.get("start", 1)
            self.counters.append(start if isinstance(start, int) else 1)
        elif kind in ("bullet_list_close", "ordered_list_close"):
            self.counters.pop()
        elif kind == "list_item_open":
            number = self.counters[-1]
            self.marker = "- " if number is None else f"{number}. "
            if number is not None:
                self.counters[-1] = number + 1
            self.indents.append(" " * len(self.marker))
        elif kind == "list_item_close":
            self.indents.pop()
            self.marker = None
        elif kind == "blockquote_open":
            self.quotes += 1
        elif kind == "blockquote_close":
            self.quotes -= 1
        elif kind == "inline":
            for line in self.inline(token.children or []).split("\n"):
                self.add(line)
        elif kind in ("fence", "code_block"):
            for line in token.content.rstrip("\n").split("\n"):
                self.lines.append(self.prefix()[1] + "    " + line)
        elif kind == "hr":
            self.lines.append(self.prefix()[1] + "* * *")

    def prefix(self) -> tuple[str, str]:
        """The first line's prefix and the following lines'."""
        quote = "> " * self.quotes
        rest = quote + "".join(self.indents)
        if self.marker is None:
            return rest, rest
        return quote + "".join(self.indents[:-1]) + self.marker, rest

    def add(self, text: str) -> None:
        first, rest = self.prefix()
        self.marker = None
        self.lines.extend(line.rstrip().replace(_TIE, " ") for line in
                          wrap_lines(" ".join(text.split()), self.width, first, rest))

    def inline(self, children: Sequence[Token]) -> str:
        out: list[str] = []
        links: list[tuple[str, int]] = []
        for child in children:
            if child.type in ("text", "code_inline"):
                out.append(child.content)
            elif child.type == "softbreak":
                out.append(" ")
            elif child.type == "hardbreak":
                out.append("\n")
            elif child.type == "image":
                out.append(child.content)  # its alt text
            elif child.type == "link_open":
                links.append((str(child.attrs.get("href", "")), len(out)))
            elif child.type == "link_close" and links:
                href, at = links.pop()
                shown = "".join(out[at:]).strip()
                if href.startswith(SAFE_SCHEMES) and shown not in (href, href[7:]):
                    out.append(f"{_TIE}[{self.number(href)}]")
        return "".join(out)

    def number(self, href: str) -> int:
        if href not in self.numbers:
            self.numbers[href] = len(self.numbers) + 1
            self.references.append((self.numbers[href], href))
        return self.numbers[href]

    def flush(self) -> None:
        if not self.lines:
            return
        self.lines.extend(f"[{n}] {href}" for n, href in self.references)
        self.blocks.append("\n".join(self.lines))
        self.lines, self.references = [], []
