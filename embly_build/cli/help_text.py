"""Command help written in the source's line lengths, shown in the terminal's."""

from __future__ import annotations


def reflowed(doc: str) -> str:
    """Each paragraph (paragraphs are separated by blank lines) as one line, for the terminal
    to wrap: typer keeps a docstring's line breaks, which split sentences in 80 columns."""
    paragraphs = doc.strip().split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)
