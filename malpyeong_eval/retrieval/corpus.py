"""The norms corpus a retriever searches: passages read from a PDF, a text file or JSONL.

Three forms, told apart by content (``%PDF`` at the start, ``{`` as the first character of a
text file) rather than by the file's name:

- a PDF, such as the organizers' reference document as teams receive it: its text (read with
  pypdf) is split at the rule headings ``<분류 - 규정 제N항>``, e.g.
  ``<한글 맞춤법, 표준어 규정 - 한글 맞춤법 제18항>``;
- a plain UTF-8 text file with the same headings;
- JSONL, one ``{"id", "title", "text"}`` object per line (``title`` optional).

For the two heading forms a passage's ``title`` is the heading (whitespace collapsed, brackets
kept), its ``text`` is everything up to the next heading, and its ``id`` is the heading without
the brackets (``#2``, ``#3`` ... on a heading seen again). Text before the first heading (a
cover, a preface) is not a passage, nor is a heading with no text under it (a table of contents).

Every problem is a :class:`CorpusError`, one line naming the file.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from ..inputs import check_value, decode_utf8, jsonl_lines, read_bytes
from ..errors import MalpyeongError

__all__ = ["Corpus", "CorpusError", "HEADING", "Passage", "load_corpus", "sample_corpus_path", "split_at_headings"]

# <분류 - 규정 제N항>: a category, " - ", a rule ending in 제N항 (a PDF may break a heading over lines).
HEADING = re.compile(r"<([^<>]{1,200}?\s-\s[^<>]{0,200}?제\s*\d+\s*항[^<>]{0,40}?)>")
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


def _collapse(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def split_at_headings(text: str, source: str = "corpus") -> list[Passage]:
    """Passages of ``text`` split at ``<분류 - 규정 제N항>`` headings.

    >>> [(p.id, p.text) for p in split_at_headings("서문\\n<한글 맞춤법, 표준어 규정 - 한글 맞춤법 제1항>\\n가.\\n나.")]
    [('한글 맞춤법, 표준어 규정 - 한글 맞춤법 제1항', '가.\\n나.')]
    """
    matches = list(HEADING.finditer(text))
    if not matches:
        raise CorpusError(f"{source}: no rule heading of the form <분류 - 규정 제N항> found")
    passages: list[Passage] = []
    seen: dict[str, int] = {}
    for match, following in zip(matches, [*matches[1:], None]):
        body = text[match.end(): following.start() if following else len(text)].strip()
        if not body:
            continue
        heading = _collapse(match.group(1))
        seen[heading] = seen.get(heading, 0) + 1
        passage_id = heading if seen[heading] == 1 else f"{heading}#{seen[heading]}"
        passages.append(Passage(passage_id, f"<{heading}>", body))
    if not passages:
        raise CorpusError(f"{source}: every rule heading is empty (no text under any heading)")
    return passages


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
            return "\n".join(page.extract_text() or "" for page in reader.pages)
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
    """Read a corpus file (PDF, text with headings, or JSONL) into passages, with its sha256."""
    path = Path(path)
    raw = read_bytes(path, what="corpus file", expected="a PDF, text or JSONL corpus file", error=CorpusError)
    if not raw.strip():
        raise CorpusError(f"{path}: corpus file is empty")
    digest = hashlib.sha256(raw).hexdigest()
    if raw.lstrip()[:5] == b"%PDF-":
        text = _pdf_text(path, raw)
        if not text.strip():
            raise CorpusError(f"{path}: the PDF has no extractable text (a scan? run OCR first)")
        passages = split_at_headings(text, str(path))
    else:
        text = decode_utf8(path, raw, error=CorpusError)
        if not text.strip():
            raise CorpusError(f"{path}: corpus file is empty")
        if text.lstrip().startswith("{"):
            passages = _jsonl_passages(path, text)
        else:
            passages = split_at_headings(text, str(path))
    check_value(str(path), [[p.id, p.title, p.text] for p in passages], error=CorpusError)  # e.g. a PDF's text
    return Corpus(path, digest, tuple(passages))


def sample_corpus_path() -> Path:
    """The packaged sample corpus: original short rules in the norms' style (not the organizers' document)."""
    from importlib import resources

    return Path(str(resources.files("malpyeong_eval") / "data" / "sample_corpus.txt"))
