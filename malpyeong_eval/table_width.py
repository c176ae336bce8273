"""Tables that fit the width they are printed at: one line per row, no cell wrapped.

A table is declared as :class:`Column` s. :func:`fit` keeps it within a width: names (the one
column that ``shrinks``) keep up to :data:`NAME_ROOM` columns; before they get less, the optional
columns go, the lowest ``drop`` first (the table says which with :func:`dropped_note`); then the
names are shortened from the middle, each kept distinct from the others (:func:`shorten_distinct`:
``malpyeong-demo/…/checkpoint-40``). Widths are terminal cells (a Hangul syllable is two).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from rich.cells import cell_len
from rich.markup import escape
from rich.table import Table
from rich.text import Text


if TYPE_CHECKING:
    from rich.console import JustifyMethod

__all__ = ["NAME_ROOM", "Column", "Fit", "dropped_note", "fit", "shorten", "shorten_distinct", "table_width"]

ELLIPSIS = "…"
NAME_ROOM = 30  # a name's columns before optional columns go: "malpyeong-demo/…/checkpoint-40"
NAME_FLOOR = 12  # the fewest columns a name is shortened to
WIDE = 1000  # a width no table reaches (every column, names whole): --wide, and the tables' default


def _head(text: str, cells: int) -> str:
    """The longest start of ``text`` within ``cells`` terminal cells."""
    taken = 0
    for index, char in enumerate(text):
        taken += cell_len(char)
        if taken > cells:
            return text[:index]
    return text


def _tail(text: str, cells: int) -> str:
    """The longest end of ``text`` within ``cells`` terminal cells."""
    return _head(text[::-1], cells)[::-1]


def _split(text: str, room: int, head: int) -> str:
    return _head(text, head) + ELLIPSIS + _tail(text, room - head)


def _preferred_head(text: str, room: int) -> int:
    """Where :func:`shorten` cuts: the last path part whole when it leaves the start a few cells (the
    end tells runs of one training apart), else two thirds of the room to the end."""
    if "/" in text:
        last = cell_len(text[text.rindex("/"):])
        if last <= room - 4:
            return room - last
    return room - room * 2 // 3


def shorten(text: str, width: int) -> str:
    """``text`` within ``width`` cells, shortened from the middle: ``malpyeong-demo/…/checkpoint-40``."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    return _split(text, width - 1, _preferred_head(text, width - 1))


def _first_difference(texts: Sequence[str]) -> int:
    return next((index for index, chars in enumerate(zip(*texts, strict=False)) if len(set(chars)) > 1), min(map(len, texts)))


def _window(text: str, room: int, at: int) -> str:
    """``…`` + the part of ``text`` around ``at`` + ``…`` + its end: names that share a long start and end."""
    tail = room // 2
    window = room - tail - 1
    start = max(0, at - window // 2)
    return ELLIPSIS + _head(text[start:], window) + ELLIPSIS + _tail(text, tail)


def _distinct_group(texts: list[str], width: int, taken: set[str]) -> list[str]:
    """Shortenings of ``texts`` (which :func:`shorten` makes equal) that differ from each other and ``taken``."""
    room = width - 1
    preferred = _preferred_head(texts[0], room)
    for head in sorted(range(room + 1), key=lambda cut: abs(cut - preferred)):
        tried = [_split(text, room, head) for text in texts]
        if len(set(tried)) == len(tried) and not taken & set(tried):
            return tried
    at = _first_difference(texts)
    return [_window(text, room, at) for text in texts]


def shorten_distinct(texts: Sequence[str], width: int) -> list[str]:
    """Each text shortened (:func:`shorten`) to ``width`` cells, texts that differ kept different."""
    shortened = [shorten(text, width) for text in texts]
    groups: dict[str, list[int]] = {}
    for index, short in enumerate(shortened):
        groups.setdefault(short, []).append(index)
    for short, indices in groups.items():
        originals = list(dict.fromkeys(texts[index] for index in indices))
        if len(originals) < 2 or width < 3:
            continue
        taken = set(shortened) - {short}
        renamed = dict(zip(originals, _distinct_group(originals, width, taken), strict=True))
        for index in indices:
            shortened[index] = renamed[texts[index]]
    return shortened


@dataclass(frozen=True)
class Column:
    """One column: its header and cells (rich markup), how it aligns, and whether it may go.

    ``drop``: an optional column's order of leaving (the lowest first); ``None``: always shown.
    ``shrinks``: the names' column, whose cells are plain text with control characters already made
    visible (:func:`~malpyeong_eval.report.visible`; escaped here when shown), shortened from the middle
    to fit, each followed by its ``marks`` (markup: ``†``, `` (old rules)``).
    """

    header: str
    cells: list[str]
    justify: JustifyMethod = "left"
    drop: int | None = None
    shrinks: bool = False
    marks: list[str] = field(default_factory=list)
    style: str | None = None

    def natural(self) -> int:
        """The cells it takes with nothing shortened."""
        marks = self.marks or [""] * len(self.cells)
        cells = [cell_len(text) + Text.from_markup(mark).cell_len for text, mark in zip(self.cells, marks, strict=True)] \
            if self.shrinks else [Text.from_markup(cell).cell_len for cell in self.cells]
        return max([Text.from_markup(self.header).cell_len, *cells])


def table_width(widths: Sequence[int]) -> int:
    """The width of a rich table (default box, padding 1) whose columns are ``widths`` wide."""
    return sum(widths) + 3 * len(widths) + 1


@dataclass(frozen=True)
class Fit:
    """The columns kept (names shortened), the headers of those dropped, and the table's width."""

    columns: list[Column]
    dropped: list[str]
    width: int

    def table(self, **options) -> Table:
        """The rich table of the kept columns, every cell on one line (``options``: ``Table``'s)."""
        table = Table(**options)
        for column in self.columns:
            table.add_column(column.header, justify=column.justify, no_wrap=True, overflow="ellipsis", style=column.style)
        for row in zip(*(column.cells for column in self.columns), strict=True):
            table.add_row(*row)
        return table


def _drop_order(columns: Sequence[Column]) -> list[Column]:
    return sorted((column for column in columns if column.drop is not None), key=lambda column: column.drop or 0)


def fit(columns: Sequence[Column], width: int) -> Fit:
    """``columns`` within ``width`` cells: optional columns dropped until the names get
    min(their length, :data:`NAME_ROOM`) cells, then the names shortened to what is left (not
    below :data:`NAME_FLOOR`)."""
    kept = list(columns)
    names = next((column for column in kept if column.shrinks), None)
    wanted = min(names.natural(), NAME_ROOM) if names else 0

    def others(chosen: list[Column]) -> int:
        return table_width([column.natural() for column in chosen if not column.shrinks]) + (3 if names else 0)

    dropped = []
    for column in _drop_order(kept):
        if others(kept) + wanted <= width:
            break
        kept.remove(column)
        dropped.append(column.header)
    if names is None:
        return Fit(kept, dropped, others(kept))
    room = max(min(names.natural(), width - others(kept)), min(names.natural(), NAME_FLOOR))
    marks = names.marks or [""] * len(names.cells)
    short = shorten_distinct(names.cells,
                             room - max((Text.from_markup(mark).cell_len for mark in marks), default=0))
    shown = replace(names, cells=[escape(text) + mark for text, mark in zip(short, marks, strict=True)], shrinks=False, marks=[])
    return Fit([shown if column is names else column for column in kept], dropped, others(kept) + room)


def dropped_note(dropped: Sequence[str]) -> str | None:
    """The line saying which columns the width left out (``None``: none)."""
    return f"not shown at this width: {', '.join(dropped)} (--wide shows all)" if dropped else None
