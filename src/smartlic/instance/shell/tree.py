"""The IOS command tree and parser: pure, no I/O.

A command is registered as a spec string of words: keywords (``show``, ``license``) and
arguments (``<days:number>``, ``<path:word>``, ``<text:line>`` — ``line`` takes the rest of the
line). Parsing follows IOS: every keyword may be abbreviated to a unique prefix (an exact match
wins), a word that matches nothing is marked with ``^`` under its first character, a prefix of
several keywords is ambiguous, and a line that stops before a command is complete is incomplete.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

ARG_RE = re.compile(r"<(?P<name>[a-z_0-9]+)(?::(?P<kind>word|number|line))?>")
Action = Callable[..., Any]


class ParseError(Exception):
    """A line IOS would refuse; ``render(prompt)`` gives the device's text."""

    def __init__(self, kind: str, line: str, position: int = 0) -> None:
        super().__init__(kind)
        self.kind = kind
        self.line = line
        self.position = position

    def render(self, prompt_len: int = 0) -> str:
        if self.kind == "invalid":
            marker = " " * (prompt_len + self.position) + "^"
            return f"{marker}\n% Invalid input detected at '^' marker.\n\n"
        if self.kind == "ambiguous":
            return f'% Ambiguous command:  "{self.line.strip()}"\n'
        return "% Incomplete command.\n\n"


@dataclass
class Node:
    word: str
    help: str = ""
    kind: str = "keyword"
    """``keyword``, ``word``, ``number`` or ``line``."""
    low: int = 0
    high: int = 2**31 - 1
    children: list[Node] = field(default_factory=list)
    action: Action | None = None
    hidden: bool = False

    def keyword_matches(self, token: str) -> list[Node]:
        low = token.lower()
        keywords = [c for c in self.children if c.kind == "keyword"]
        exact = [c for c in keywords if c.word.lower() == low]
        if exact:
            return exact
        return [c for c in keywords if c.word.lower().startswith(low)]

    def arg_child(self, token: str) -> Node | None:
        for child in self.children:
            if child.kind == "number":
                if token.isdigit() and child.low <= int(token) <= child.high:
                    return child
            elif child.kind in ("word", "line"):
                return child
        return None

    def label(self) -> str:
        if self.kind == "keyword":
            return self.word
        if self.kind == "number":
            return f"<{self.low}-{self.high}>"
        return self.word.upper()


@dataclass(frozen=True)
class Parsed:
    action: Action
    args: dict[str, Any]
    words: tuple[str, ...]
    """The keywords as spelt in full (``("show", "license", "summary")``)."""


@dataclass(frozen=True)
class Token:
    text: str
    start: int


def tokenize(line: str) -> list[Token]:
    return [Token(m.group(0), m.start()) for m in re.finditer(r"\S+", line)]


class Tree:
    """One mode's commands."""

    def __init__(self, helps: dict[str, str] | None = None) -> None:
        self.root = Node("")
        self.helps = helps or {}

    def add(
        self,
        spec: str,
        action: Action,
        *,
        ranges: dict[str, tuple[int, int]] | None = None,
        hidden: bool = False,
    ) -> None:
        node = self.root
        for word in spec.split():
            match = ARG_RE.fullmatch(word)
            if match:
                name, kind = match.group("name"), match.group("kind") or "word"
                found = next((c for c in node.children if c.kind == kind), None)
                if found is None:
                    low, high = (ranges or {}).get(name, (0, 2**31 - 1))
                    found = Node(name, self.helps.get(f"<{name}>", ""), kind, low, high)
                    node.children.append(found)
                elif found.word != name:
                    raise ValueError(f"{spec}: argument <{name}> clashes with <{found.word}>")
            else:
                found = next(
                    (c for c in node.children if c.kind == "keyword" and c.word == word), None
                )
                if found is None:
                    found = Node(word, self.helps.get(word, ""), hidden=hidden)
                    node.children.append(found)
                    node.children.sort(key=lambda c: (c.kind != "keyword", c.word))
            node = found
        node.action = action

    # --- parsing -----------------------------------------------------------------------------

    def parse(self, line: str) -> Parsed:
        tokens = tokenize(line)
        node = self.root
        args: dict[str, Any] = {}
        words: list[str] = []
        for token in tokens:
            matches = node.keyword_matches(token.text)
            if len(matches) > 1:
                raise ParseError("ambiguous", line[: token.start + len(token.text)])
            if matches:
                node = matches[0]
                words.append(node.word)
                continue
            child = node.arg_child(token.text)
            if child is None:
                raise ParseError("invalid", line, token.start)
            if child.kind == "line":
                args[child.word] = line[token.start :].rstrip()
                node = child
                break
            args[child.word] = int(token.text) if child.kind == "number" else token.text
            node = child
        if node.action is None:
            raise ParseError("incomplete", line, len(line))
        return Parsed(node.action, args, tuple(words))

    def _walk(self, tokens: list[Token], line: str) -> Node:
        node = self.root
        for token in tokens:
            matches = node.keyword_matches(token.text)
            if len(matches) > 1:
                raise ParseError("ambiguous", line[: token.start + len(token.text)])
            if matches:
                node = matches[0]
                continue
            child = node.arg_child(token.text)
            if child is None:
                raise ParseError("invalid", line, token.start)
            if child.kind == "line":
                return child
            node = child
        return node

    def help(self, line: str) -> str:
        """The answer to ``?`` typed at the end of ``line`` (without the ``?``)."""
        tokens = tokenize(line)
        if line and not line[-1].isspace() and tokens:
            partial = tokens[-1].text
            node = self._walk(tokens[:-1], line)
            words = [c.word for c in node.keyword_matches(partial) if not c.hidden]
            if not words:
                child = node.arg_child(partial)
                if child is not None and child.kind != "keyword":
                    words = [child.label()]
            if not words:
                raise ParseError("unknown", line)
            return "  ".join(words) + "  \n\n"
        node = self._walk(tokens, line)
        if node.kind == "line" and tokens:
            entries = [("LINE", node.help)]
        else:
            entries = [(c.label(), c.help) for c in node.children if not c.hidden]
        if node.action is not None:
            entries.append(("<cr>", "<cr>"))
        if not entries:
            raise ParseError("invalid", line, len(line))
        width = max(len(label) for label, _ in entries)
        return "".join(f"  {label:<{width}}  {text}".rstrip() + "\n" for label, text in entries)

    def complete(self, line: str) -> list[str]:
        """Keywords that can follow ``line`` (for tab completion)."""
        tokens = tokenize(line)
        try:
            if line and not line[-1].isspace() and tokens:
                node = self._walk(tokens[:-1], line)
                return [c.word for c in node.keyword_matches(tokens[-1].text) if not c.hidden]
            node = self._walk(tokens, line)
        except ParseError:
            return []
        return [c.word for c in node.children if c.kind == "keyword" and not c.hidden]


# --- output filters --------------------------------------------------------------------------

FILTERS = ("begin", "count", "exclude", "include", "section")


def split_filter(line: str) -> tuple[str, list[tuple[str, str]]]:
    """``show x | include y`` → (``show x``, [(``include``, ``y``)]). Raises ParseError."""
    if "|" not in line:
        return line, []
    head, *parts = line.split("|")
    filters: list[tuple[str, str]] = []
    offset = len(head) + 1
    for part in parts:
        tokens = tokenize(part)
        if not tokens:
            raise ParseError("incomplete", line, offset)
        word = tokens[0].text.lower()
        found = [f for f in FILTERS if f.startswith(word)]
        if len(found) != 1:
            kind = "ambiguous" if found else "invalid"
            raise ParseError(kind, line, offset + tokens[0].start)
        rest = part[tokens[0].start + len(tokens[0].text) :].strip()
        if not rest:
            raise ParseError("incomplete", line, offset + len(part))
        filters.append((found[0], rest))
        offset += len(part) + 1
    return head, filters


def apply_filters(text: str, filters: list[tuple[str, str]]) -> str:
    for name, pattern in filters:
        try:
            regex = re.compile(pattern)
        except re.error:
            regex = re.compile(re.escape(pattern))
        lines = text.splitlines()
        if name == "include":
            lines = [ln for ln in lines if regex.search(ln)]
        elif name == "exclude":
            lines = [ln for ln in lines if not regex.search(ln)]
        elif name == "begin":
            start = next((i for i, ln in enumerate(lines) if regex.search(ln)), len(lines))
            lines = lines[start:]
        elif name == "section":
            kept: list[str] = []
            inside = False
            for ln in lines:
                if not ln or not ln[0].isspace():
                    inside = bool(ln) and bool(regex.search(ln))
                    if inside:
                        kept.append(ln)
                elif inside or regex.search(ln):
                    kept.append(ln)
            lines = kept
        elif name == "count":
            matched = sum(1 for ln in lines if regex.search(ln))
            lines = [f"Number of lines which match regexp = {matched}"]
        text = "".join(ln + "\n" for ln in lines)
    return text
