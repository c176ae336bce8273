"""The norms corpus a retriever searches: passages read from a PDF, a .docx, a text file or JSONL.

Four forms, told apart by content (``%PDF`` at the start; a zip holding ``word/document.xml``;
``{`` as the first character of a text file) rather than by the file's name:

- a PDF, such as the organizers' reference document as teams receive it, read with pypdf;
- a Word document (.docx, the organizers' other form), read with python-docx: each paragraph a
  line, each table row a line of its cells joined by `` | ``;
- a plain UTF-8 text file;
- JSONL, one ``{"id", "title", "text"}`` object per line (``title`` optional).

**What a heading is.** A line that holds nothing but ``<분류 - 규정명>``: ``<``, a category, a
space, ``-``, a space, a rule name, ``>``. The rule name may end in anything (``제N항``,
``제N장 표N``, ``제N장 제N절 제N항``, ``… 규정``). A heading may break over up to three lines
(the first starting with ``<`` and holding no ``>``, the last ending with ``>``). An
angle-bracketed word inside a rule's text (``<보기>``, ``<한강>을``) is not a heading: it has no
`` - `` or does not stand alone on its line.

**Hard line wraps.** The PDF text keeps the document's line wraps, and they cut words. The
document's own convention tells them apart: a wrap between words has a space before the line
break, a wrap inside a word has none. So inside a passage (and a broken heading) a line break
after a space joins the lines with one space, and a break right after any other character joins
them with nothing (``어디\n까지나`` → ``어디까지나``) — except that a blank line ends a
paragraph, and a line that opens a list item or a new paragraph keeps its break: one starting
with ``- ``, ``· ``, ``※``, ``다만``, ``붙임``, ``[`` (``[붙임 1]``, a table row ``[p] ...``),
``(1)``, ``1.``, ``①`` or ``ㄱ.``. A broken heading's ``-`` at a line end is followed by a space.
A .docx has no hard wraps (a paragraph is a line), so its lines are kept as they are; the text
of a passage is then the same in both forms: its logical lines joined by ``\n``, blank lines
dropped.

A passage's ``title`` is the heading (whitespace collapsed, brackets kept), its ``text`` is
everything up to the next heading, and its ``id`` is the heading without the brackets (``#2``,
``#3`` ... on a heading seen again). Text before the first heading (a cover, a preface) is not a
passage, nor is a heading with no text under it (a table of contents).

Every problem is a :class:`CorpusError`, one line naming the file.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ..inputs import check_docx, check_value, decode_utf8, jsonl_lines, read_bytes
from ..errors import MalpyeongError
from .metrics import relevance_keys

__all__ = [
    "Corpus", "CorpusError", "HEADING", "Passage", "join_wrapped", "load_corpus", "sample_corpus_path",
    "split_at_headings",
]

# <분류 - 규정명> alone on its line: a category and a rule name around " - ", no other brackets.
HEADING = re.compile(r"<([^<>]*?\S\s+-\s+\S[^<>]*)>")
_MAX_HEADING_LINES = 3
# a line that starts a list item or a new paragraph keeps the line break before it
_OPENS_LINE = re.compile(r"(?:[-·•]\s|※|다만|붙임|\[|\(\d+\)|\d+\.\s|[①-⑳]|[ㄱ-ㅎ]\.\s)")
_SPACE = re.compile(r"\s+")


class CorpusError(MalpyeongError):
    """A corpus file that cannot be read into passages."""


@dataclass(frozen=True)
class Passage:
    """One retrievable unit: a rule with its heading."""

    id: str
    title: str
    text: str

    def render(self) -> str:
        """The passage as it goes into the data: ``"{title}\\n{text}"``."""
        return f"{self.title}\n{self.text}" if self.title else self.text


@dataclass(frozen=True)
class Corpus:
    """The passages of one corpus file, with the file's name and content hash."""

    path: Path
    sha256: str
    passages: tuple[Passage, ...]

    @property
    def name(self) -> str:
        return self.path.name

    def __len__(self) -> int:
        return len(self.passages)

    @cached_property
    def _by_key(self) -> dict[str, tuple[int, ...]]:
        found: dict[str, list[int]] = {}
        for index, passage in enumerate(self.passages):
            key = relevance_keys(passage.title)[0]
            if key:
                found.setdefault(key, []).append(index)
        return {key: tuple(indices) for key, indices in found.items()}

    def passages_for(self, label: str | Sequence[str]) -> tuple[int, ...]:
        """The passages a rule label names, by :func:`.metrics.is_relevant`'s rule (in corpus order)."""
        if not isinstance(label, str):
            return tuple(sorted({index for one in label for index in self.passages_for(one)}))
        return tuple(sorted({index for key in relevance_keys(label) for index in self._by_key.get(key, ())}))


def _collapse(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _join_two(before: str, after: str) -> str:
    """Two physical lines of one logical line, by the wrap convention (see the module docstring)."""
    if before[-1:].isspace() or before.endswith("-"):
        return before.rstrip() + " " + after.lstrip()
    return before + after.lstrip()


def join_wrapped(lines: Iterable[str]) -> list[str]:
    """The logical lines of hard-wrapped ``lines``: wraps rejoined, blank lines dropped.

    >>> join_wrapped(["띄어 씀을 원칙으로 ", "하되 어디", "까지나 예외는", "", "- 다만 하나", "[붙임] 둘"])
    ['띄어 씀을 원칙으로 하되 어디까지나 예외는', '- 다만 하나', '[붙임] 둘']
    """
    logical: list[str] = []
    current = ""
    for line in lines:
        if not line.strip():
            if current.strip():
                logical.append(current.strip())
            current = ""
        elif not current or _OPENS_LINE.match(line.lstrip()):
            if current.strip():
                logical.append(current.strip())
            current = line.lstrip()
        else:
            current = _join_two(current, line)
    if current.strip():
        logical.append(current.strip())
    return logical


def _heading_at(lines: Sequence[str], start: int, wrapped: bool) -> tuple[str, int] | None:
    """The heading that starts at ``lines[start]`` and the number of lines it spans, if one does."""
    first = lines[start].strip()
    if not first.startswith("<"):
        return None
    joined = ""
    for used in range(1, _MAX_HEADING_LINES + 1):
        if start + used > len(lines):
            return None
        line = lines[start + used - 1]
        joined = line.lstrip() if used == 1 else (_join_two(joined, line) if wrapped else joined + " " + line.strip())
        if ">" in joined:
            match = HEADING.fullmatch(joined.strip())
            return (_collapse(match.group(1)), used) if match else None
        if used > 1 and "<" in line:
            return None
    return None


def split_at_headings(text: str, source: str = "corpus", *, wrapped: bool = True) -> list[Passage]:
    """Passages of ``text`` split at ``<분류 - 규정명>`` heading lines (``wrapped``: rejoin hard wraps).

    >>> [(p.id, p.text) for p in split_at_headings("서문\\n<문장 부호 - 문장 부호 쉼표 \\n규정>\\n쉼표는 문장 \\n안에서 짧은 휴지를 나\\n타낸다.")]
    [('문장 부호 - 문장 부호 쉼표 규정', '쉼표는 문장 안에서 짧은 휴지를 나타낸다.')]
    """
    lines = text.splitlines()
    sections: list[tuple[str, list[str]]] = []
    index = 0
    while index < len(lines):
        found = _heading_at(lines, index, wrapped)
        if found is not None:
            sections.append((found[0], []))
            index += found[1]
            continue
        if sections:
            sections[-1][1].append(lines[index])
        index += 1
    if not sections:
        raise CorpusError(f"{source}: no rule heading found (a line holding only <분류 - 규정명>)")
    passages: list[Passage] = []
    seen: dict[str, int] = {}
    for heading, body_lines in sections:
        body = "\n".join(join_wrapped(body_lines) if wrapped else [line.strip() for line in body_lines if line.strip()])
        if not body:
            continue
        seen[heading] = seen.get(heading, 0) + 1
        passage_id = heading if seen[heading] == 1 else f"{heading}#{seen[heading]}"
        passages.append(Passage(passage_id, f"<{heading}>", body))
    if not passages:
        raise CorpusError(f"{source}: every rule heading is empty (no text under any heading)")
    return passages


def _docx_lines(path: Path, raw: bytes) -> list[str]:
    """A Word document's paragraphs and table rows, in document order, one line each."""
    import docx
    from docx.table import Table
    from lxml.etree import XMLSyntaxError

    check_docx(path, raw, error=CorpusError)  # sizes and DTDs bounded before python-docx reads anything
    try:
        document = docx.Document(io.BytesIO(raw))
    except (zipfile.BadZipFile, KeyError, ValueError, XMLSyntaxError) as exc:
        raise CorpusError(f"{path}: not a readable .docx ({type(exc).__name__}: {str(exc)[:80]})") from None
    lines: list[str] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                lines.append(" | ".join(cell.text.replace("\n", " ").strip() for cell in row.cells))
        else:
            lines.extend(block.text.splitlines() or [""])
    return lines


def _is_docx(raw: bytes) -> bool:
    if not raw.startswith(b"PK"):
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            return "word/document.xml" in archive.namelist()
    except zipfile.BadZipFile:
        return False


def _pdf_text(path: Path, raw: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    pypdf_log = logging.getLogger("pypdf")
    level = pypdf_log.level
    pypdf_log.setLevel(logging.CRITICAL)  # a noisy PDF's hundreds of warnings stay off the terminal
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(io.BytesIO(raw))
            if reader.is_encrypted:
                raise CorpusError(f"{path}: the PDF is encrypted")
            # a page break is one more line break, under the same wrap rule (it cuts words too)
            return "\n".join((page.extract_text() or "").rstrip("\n") for page in reader.pages)
    except CorpusError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError) as exc:
        raise CorpusError(f"{path}: cannot be read as a PDF ({type(exc).__name__}: {str(exc)[:80]})") from None
    finally:
        pypdf_log.setLevel(level)


def _jsonl_passages(path: Path, text: str) -> list[Passage]:
    passages: list[Passage] = []
    where: dict[str, int] = {}
    for number, line in enumerate(jsonl_lines(text), start=1):
        if not line.strip():
            continue
        try:
            record = check_value(f"{path}: line {number}", json.loads(line), error=CorpusError)
        except (ValueError, RecursionError):
            raise CorpusError(f"{path}: line {number}: not a JSON object (expected one {{\"id\", \"title\", \"text\"}} per line)") from None
        if not isinstance(record, dict):
            raise CorpusError(f"{path}: line {number}: not a JSON object (expected one {{\"id\", \"title\", \"text\"}} per line)")
        if not isinstance(record.get("text"), str) or not record["text"].strip():
            raise CorpusError(f"{path}: line {number}: no \"text\" (a non-empty string)")
        if "id" not in record or not isinstance(record["id"], (str, int)) or isinstance(record["id"], bool):
            raise CorpusError(f"{path}: line {number}: no \"id\" (a string or an integer)")
        title = record.get("title", "")
        if not isinstance(title, str):
            raise CorpusError(f"{path}: line {number}: \"title\" is not a string")
        passage_id = str(record["id"])
        if passage_id in where:
            raise CorpusError(f"{path}: line {number}: duplicate id {passage_id!r} (first on line {where[passage_id]})")
        where[passage_id] = number
        passages.append(Passage(passage_id, _collapse(title), record["text"].strip()))
    return passages


def load_corpus(path: str | Path) -> Corpus:
    """Read a corpus file (PDF, .docx, text with headings, or JSONL) into passages, with its sha256."""
    path = Path(path)
    raw = read_bytes(path, what="corpus file", expected="a PDF, .docx, text or JSONL corpus file", error=CorpusError)
    if not raw.strip():
        raise CorpusError(f"{path}: corpus file is empty")
    digest = hashlib.sha256(raw).hexdigest()
    if raw.lstrip()[:5] == b"%PDF-":
        text = _pdf_text(path, raw)
        if not text.strip():
            raise CorpusError(f"{path}: the PDF has no extractable text (a scan? run OCR first)")
        passages = split_at_headings(text, str(path))
    elif _is_docx(raw):
        passages = split_at_headings("\n".join(_docx_lines(path, raw)), str(path), wrapped=False)
    elif path.suffix.lower() == ".docx" or raw.startswith(b"PK"):
        raise CorpusError(f"{path}: not a .docx (no Word document inside the file)")
    else:
        text = decode_utf8(path, raw, error=CorpusError)
        if not text.strip():
            raise CorpusError(f"{path}: corpus file is empty")
        if text.lstrip().startswith("{"):  # each line checked as it is parsed
            return Corpus(path, digest, tuple(_jsonl_passages(path, text)))
        passages = split_at_headings(text, str(path))
    check_value(str(path), [[p.id, p.title, p.text] for p in passages], error=CorpusError)  # e.g. a PDF's text
    return Corpus(path, digest, tuple(passages))


def sample_corpus_path() -> Path:
    """The packaged sample corpus: original short rules in the norms' style (not the organizers' document)."""
    from importlib import resources

    return Path(str(resources.files("malpyeong_eval") / "data" / "sample_corpus.txt"))
