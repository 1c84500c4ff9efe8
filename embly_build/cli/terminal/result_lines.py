"""How the lines that report builds read. Plain string formatting, importing nothing: an
up-to-date `embly build` prints them before anything else is loaded (commands/up_to_date_report.py).
"""

from __future__ import annotations

# How the mark of a successful build is coloured: rich markup, or ANSI for a terminal.
MARKUP_GREEN = ("[green]", "[/green]")
ANSI_GREEN = ("\x1b[32m", "\x1b[0m")
NO_COLOUR = ("", "")


def ok_line(
    function: str, state: str, seconds: float, sizes: str, colour: tuple[str, str] = MARKUP_GREEN
) -> str:
    """`✓ greeter  cached  0.0s  wasm 67.9 KiB  cwasm 206.9 KiB`."""
    start, end = colour
    return f"{start}✓ {function}{end}  {state}  {seconds:.1f}s  {sizes}"


def cancelled_line(function: str, seconds: float) -> str:
    """`⊘ greeter  cancelled  0.3s`: a newer build of the function took its place."""
    return f"[yellow]⊘ {function}[/yellow]  cancelled  {seconds:.1f}s"


def summary_markup(ok: int, cached: int, failed: int, seconds: float, *, cancelled: int = 0) -> str:
    """The line that ends a build (or a watch round)."""
    parts = [f"{ok} ok" + (f" ({cached} cached)" if cached else "")]
    if failed:
        parts.append(f"[red]{failed} failed[/red]")
    if cancelled:
        parts.append(f"[yellow]{cancelled} cancelled[/yellow]")
    return f"{', '.join(parts)} in {seconds:.1f}s"
