"""Retrieved passages written into contest data: ``input[field]`` and a top-level ``retrieval`` record.

The query of an item is its ``input.question`` and nothing else: never the answer (``output``),
which a retriever given the answer would find the rule from, and retrieval numbers computed that
way say nothing about a real test run.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import SubmissionError
from .base import Retriever
from .corpus import Corpus

__all__ = ["SETTINGS_KEYS", "queries_of", "retrieve_into"]

# the part of ``retrieval`` that describes how the data was made (the rest is per item)
SETTINGS_KEYS = ("retriever", "corpus", "corpus_hash", "top_k", "field")


def queries_of(records: Sequence[Any], source: str = "data") -> list[str]:
    """Each record's ``input.question`` (the only text a query is built from)."""
    queries = []
    for index, record in enumerate(records):
        where = f"{source}: item {index + 1}" + (f" (id {record.get('id')!r})" if isinstance(record, Mapping) and "id" in record else "")
        if not isinstance(record, Mapping):
            raise SubmissionError(f"{where}: not an object")
        given = record.get("input")
        if not isinstance(given, Mapping) or not isinstance(given.get("question"), str) or not given["question"].strip():
            raise SubmissionError(f"{where}: no input.question (a non-empty string) to retrieve for")
        queries.append(given["question"])
    return queries


def retrieve_into(
    records: Sequence[Mapping], retriever: Retriever, corpus: Corpus, top_k: int, field: str = "references",
    *, source: str = "data",
) -> list[dict]:
    """Copies of ``records`` with ``input[field]`` = the top-``top_k`` passages and ``retrieval`` set.

    Every other field of each record is kept as it is.
    """
    queries = queries_of(records, source)
    hits = retriever.search(queries, top_k)
    settings = {
        "retriever": retriever.name,
        "corpus": corpus.name,
        "corpus_hash": corpus.sha256,
        "top_k": top_k,
        "field": field,
    }
    written = []
    for record, found in zip(records, hits):
        item = copy.deepcopy(dict(record))
        item["input"] = {**item["input"], field: [corpus.passages[index].render() for index, _ in found]}
        item["retrieval"] = {
            **settings,
            "passage_ids": [corpus.passages[index].id for index, _ in found],
            "scores": [round(score, 6) for _, score in found],
        }
        written.append(item)
    return written
