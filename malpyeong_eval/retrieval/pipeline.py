"""Retrieved passages written into contest data: ``input[field]`` and a top-level ``retrieval`` record;
labelled examples read from contest items; K-fold cross-validation.

The query of an item is its ``input.question`` (and its id) and nothing else: never the answer
(``output``), which a retriever given the answer would find the rule from, and retrieval numbers
computed that way say nothing about a real test run.

**Cross-validation** (:func:`cross_validate`): the items are shuffled with a seed and dealt into K
folds (``folds[id]``); each fold is retrieved by a retriever that learned from the examples of the
other folds only — an example is in a fold when it has the id or the question text of an item of
that fold; examples that are no item of DATA are used for every fold. Only the examples part (and
an ``auto`` weight, chosen from the fold's own examples) is rebuilt per fold; BM25 and dense
indexes are built once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..data import Item
from ..errors import MalpyeongError, SubmissionError
from .base import Hit, Query, Retriever
from .corpus import Corpus
from .examples import Example, _self_keys
from .plan import RetrieverBuilder, deal_folds

__all__ = ["CrossValidation", "SETTINGS_KEYS", "cross_validate", "examples_of", "item_labels", "queries_of",
           "retrieve_into", "write_hits"]

# the part of ``retrieval`` that describes how the data was made (the rest is per item)
SETTINGS_KEYS = ("retriever", "corpus", "corpus_hash", "top_k", "field")

RuleLabel = str | tuple[str, ...]  # a rule, or several of which any is right


def queries_of(items: Sequence[Item], source: str = "data") -> list[Query]:
    """Each item's ``input.question`` and id (all a query is built from)."""
    for index, item in enumerate(items, start=1):
        if not item.question.strip():
            raise SubmissionError(f"{source}: item {index} (id {item.id!r}): no input.question (a non-empty string) "
                                  "to retrieve for")
    return [Query(item.question, item.id, item.question_type) for item in items]


def _rule_label(value: object) -> RuleLabel | None:
    """A label as given: a non-blank string, or a list of them (blank entries dropped); else ``None``."""
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, (list, tuple)):
        return tuple(one for one in value if isinstance(one, str) and one.strip()) or None
    return None


def item_labels(items: Sequence[Item], overrides: Mapping[str, object] | None = None) -> list[RuleLabel | None]:
    """Each item's rule label: ``overrides[id]`` (a ``--labels`` file's entry) when given, else its
    ``output.article`` (:attr:`Item.article`); ``None`` where it has none."""
    return [_rule_label(overrides[item.id] if overrides is not None and item.id in overrides else item.article)
            for item in items]


def examples_of(items: Sequence[Item], overrides: Mapping[str, object] | None = None,
                source: str = "examples") -> list[Example]:
    """The labelled questions among ``items`` (``output.article``, or ``overrides[id]``).

    Items without a label are skipped; a file in which none has one is one line.
    """
    queries = queries_of(items, source)
    examples = [Example(query.id, query.question, label, query.question_type)
                for query, label in zip(queries, item_labels(items, overrides), strict=True) if label is not None]
    if not examples:
        raise MalpyeongError(f"{source}: no item has a rule label (output.article, or --labels) to learn from")
    return examples


def write_hits(items: Sequence[Item], hits: Sequence[Sequence[Hit]], settings: Mapping[str, Any],
               corpus: Corpus, field: str) -> list[dict]:
    """The items' records (:meth:`Item.as_record`, every field kept as read) with ``input[field]`` =
    their hits' passages and ``retrieval`` set."""
    written = []
    for item, found in zip(items, hits, strict=True):
        record = item.as_record()
        record["input"] = {**record["input"], field: [corpus.passages[index].render() for index, _ in found]}
        record["retrieval"] = {
            **settings,
            "passage_ids": [corpus.passages[index].id for index, _ in found],
            "scores": [round(score, 6) for _, score in found],
        }
        written.append(record)
    return written


def settings_of(retriever: str, corpus: Corpus, top_k: int, field: str) -> dict[str, Any]:
    """How the data was made: the retriever's name, the corpus and its hash, K and the field."""
    return {"retriever": retriever, "corpus": corpus.name, "corpus_hash": corpus.sha256, "top_k": top_k, "field": field}


def retrieve_into(
    items: Sequence[Item], retriever: Retriever, corpus: Corpus, top_k: int, field: str = "references",
    *, source: str = "data",
) -> list[dict]:
    """The items' records with ``input[field]`` = the top-``top_k`` passages and ``retrieval`` set.

    Every other field of each record is kept as it was read.
    """
    hits = retriever.search(queries_of(items, source), top_k)
    return write_hits(items, hits, settings_of(retriever.name, corpus, top_k, field), corpus, field)


@dataclass(frozen=True)
class CrossValidation:
    """What :func:`cross_validate` found: each item's hits, its fold, and how the folds were dealt."""

    hits: list[list[Hit]]
    folds: dict[str, int]
    k: int
    seed: int
    retriever: str
    retrievers: list[str]
    examples_per_fold: list[int]
    categories: list[str | None] | None = None  # each item's most probable norm category (where there is a category part)


def _most_probable(probabilities: dict[str, float]) -> str | None:
    return max(probabilities, key=lambda category: probabilities[category]) if probabilities else None


def cross_validate(items: Sequence[Item], examples: Sequence[Example], builder: RetrieverBuilder,
                   top_k: int, *, k: int = 5, seed: int = 0, source: str = "data") -> CrossValidation:
    """Retrieve every item with a retriever that learned from the other folds' examples only."""
    if k < 2:
        raise MalpyeongError(f"--cross-validate: needs at least 2 folds, got {k}")
    queries = queries_of(items, source)
    if len(queries) < k:
        raise MalpyeongError(f"--cross-validate {k}: {source} has only {len(queries)} items")
    fold_of_query = deal_folds(len(queries), k, seed)
    fold_of_key = {key: fold for query, fold in zip(queries, fold_of_query, strict=True) for key in _self_keys(query.id, query.question)}
    hits: list[list[Hit]] = [[] for _ in queries]
    categories: list[str | None] = [None for _ in queries]
    per_fold: list[int] = []
    names: list[str] = []
    for fold in range(k):
        kept = [
            example for example in examples
            if all(fold_of_key.get(key, -1) != fold for key in _self_keys(example.id, example.question))
        ]
        per_fold.append(len(kept))
        retriever = builder.build(kept)
        names.append(retriever.name)
        members = [i for i, f in enumerate(fold_of_query) if f == fold]
        asked = [queries[i] for i in members]
        for i, found in zip(members, retriever.search(asked, top_k), strict=True):
            hits[i] = found
        for i, probabilities in zip(members, builder.category_probabilities(retriever, asked) or [{} for _ in members], strict=True):
            categories[i] = _most_probable(probabilities)
    folds = {query.id if query.id is not None else str(i): fold for i, (query, fold) in enumerate(zip(queries, fold_of_query, strict=True))}
    common = names[0] if len(set(names)) == 1 else "per fold: " + "; ".join(names)
    return CrossValidation(hits, folds, k, seed, common, names, per_fold,
                           categories if any(category is not None for category in categories) else None)
