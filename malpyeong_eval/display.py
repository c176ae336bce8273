"""Results that show themselves: a rich renderable in a terminal, HTML in Jupyter.

A result class defines ``__rich__`` (what ``rich.print`` and the command line print) and inherits
:class:`RichDisplay`, which gives it ``_repr_html_`` (what a notebook shows) from the same
renderable, through rich's own HTML export: every text is escaped there, model output included.
"""

from __future__ import annotations

import io

from rich.console import Console, RenderableType

__all__ = ["RichDisplay", "rendered_text"]

NOTEBOOK_WIDTH = 120  # columns a notebook cell shows without a horizontal scroll bar


def _recording_console(width: int) -> Console:
    return Console(record=True, file=io.StringIO(), width=width, force_terminal=False, force_jupyter=False,
                   color_system="truecolor")


def rendered_text(renderable: RenderableType, width: int = NOTEBOOK_WIDTH) -> str:
    """``renderable`` as plain text ``width`` columns wide (no colours, no control sequences)."""
    console = _recording_console(width)
    console.print(renderable)
    return console.export_text()


class RichDisplay:
    """Mix-in for a result that defines ``__rich__``: ``_repr_html_`` renders that for Jupyter."""

    def _repr_html_(self) -> str:
        console = _recording_console(NOTEBOOK_WIDTH)
        console.print(self)
        return console.export_html(inline_styles=True, code_format="<pre style=\"font-family:monospace\">{code}</pre>")
