"""``retrieve`` and ``label`` as library calls: a frozen request in, a typed outcome out.

The command line is a shell over these (parse the flags → a request → the call → render the
outcome); a script or a notebook calls them the same way::

    from malpyeong_eval.retrieval import RetrievalPlan, RetrievalRequest, retrieve

    outcome = retrieve(RetrievalRequest("train.json", "rules.pdf", examples=("train.json",), cross_validate=5))
    outcome.report.overall.recall[5], outcome.to_json()["metrics"]

A request checks itself when it is made (each problem one :class:`MalpyeongError` naming the flag,
through :data:`FLAGS`); what needs the files (a missing file, items without a question, a corpus
without headings) is refused by the call. An outcome's :meth:`~RetrievalOutcome.to_json` is what
``--json`` prints; it renders as a table in a terminal (rich) and in Jupyter (``_repr_html_``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..data import Item
from ..display import RichDisplay
from ..errors import MalpyeongError
from ..report import format_score, inert
from .corpus import Corpus
from .examples import Example
from .labelling import DEFAULT_CANDIDATES, METHODS, LabelSummary
from .metrics import RetrievalReport
from .pipeline import CrossValidation
from .plan import LEARNED_PARTS, RetrievalPlan

__all__ = ["FLAGS", "LabelOutcome", "LabelRequest", "RetrievalOutcome", "RetrievalRequest", "label", "retrieve"]

# each request field → the flag that sets it, for the messages of a refused request
FLAGS: dict[str, str] = {
    "top_k": "--top-k", "field": "--field", "plan": "--retriever", "fusion": "--fusion", "cross_validate": "--cross-validate",
    "rerank_depth": "--rerank-depth", "learning": "--examples/--cross-validate",
    "method": "--method", "candidates": "--candidates", "batch_size": "--batch-size",
}


def _refused(name: str, problem: str) -> MalpyeongError:
    return MalpyeongError(f"{FLAGS[name]}: {problem}")


def _at_least(name: str, value: int, least: int = 1) -> None:
    if value < least:
        raise _refused(name, f"must be at least {least}, got {value}")


def _paths(request: Any, *names: str) -> None:
    """The named fields of a frozen request as :class:`Path` (a ``str`` given from Python is accepted)."""
    for name in names:
        value = getattr(request, name)
        if isinstance(value, tuple):
            object.__setattr__(request, name, tuple(Path(one) for one in value))
        elif value is not None:
            object.__setattr__(request, name, Path(value))


# -- retrieve -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RetrievalRequest:
    """What ``malpyeong-eval retrieve`` is asked (one field per flag; the retriever's settings in ``plan``).

    ``examples``: files of labelled items the learned parts learn from; ``cross_validate`` K: each
    fold of DATA retrieved with the other folds' examples only (the examples default to DATA).
    """

    data: Path
    corpus: Path
    plan: RetrievalPlan = RetrievalPlan()  # frozen: one shared default is safe
    output: Path | None = None
    top_k: int = 5
    field: str = "references"
    examples: tuple[Path, ...] = ()
    labels: Path | None = None
    cross_validate: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "examples", tuple(self.examples))
        _paths(self, "data", "corpus", "output", "examples", "labels")
        _at_least("top_k", self.top_k)
        _at_least("rerank_depth", self.plan.rerank_depth)
        if self.cross_validate is not None and self.cross_validate < 2:
            raise _refused("cross_validate", f"needs at least 2 folds, got {self.cross_validate}")
        if not self.field.strip() or self.field in ("question", "question_type"):
            raise _refused("field", f"{self.field!r} cannot receive the passages (choose another input field name)")
        plan = self.resolved_plan
        if not self.learns:
            for name in plan.part_names:
                if name in LEARNED_PARTS:
                    raise _refused("plan", f"the {name} part needs --examples FILE (labelled items) or --cross-validate K")
            if plan.fusion == "learned":
                raise _refused("fusion", "learned fusion needs --examples FILE (labelled items) or --cross-validate K")
        elif not plan.learns:
            raise _refused("learning", "--retriever has no examples part to learn from (add 'examples')")

    @property
    def learns(self) -> bool:
        """Whether labelled examples are given (``examples`` or ``cross_validate``)."""
        return bool(self.examples) or self.cross_validate is not None

    @property
    def resolved_plan(self) -> RetrievalPlan:
        """The plan with its default parts filled in for what is given."""
        return self.plan.resolved(self.learns)

    @property
    def example_files(self) -> tuple[Path, ...]:
        """The files examples are read from: ``examples``, else DATA under cross-validation."""
        return self.examples or ((self.data,) if self.cross_validate is not None else ())


@dataclass(frozen=True)
class RetrievalOutcome(RichDisplay):
    """What :func:`retrieve` did: the records written (DATA with the passages), how, and their recall."""

    request: RetrievalRequest
    records: list[dict]
    settings: dict[str, Any]
    corpus: str
    passages: int
    examples: int
    self_excluded: int
    examples_unmatched: int
    labels_unmatched: int
    report: RetrievalReport
    cross_validation: CrossValidation | None = None
    notes: tuple[str, ...] = ()  # said before the retrieval (a --top-k above the corpus's size)
    gold_categories: tuple[str | None, ...] = ()  # each item's gold norm category (None: no label)

    @property
    def retriever(self) -> str:
        return self.settings["retriever"]

    @property
    def top_k(self) -> int:
        return self.settings["top_k"]

    def to_json(self) -> dict[str, Any]:
        """What ``retrieve --json`` prints."""
        from .pipeline import SETTINGS_KEYS

        result: dict[str, Any] = {
            "output": str(self.request.output) if self.request.output else None, "n": len(self.records),
            "settings": {key: self.settings[key] for key in SETTINGS_KEYS}, "passages": self.passages,
            "examples": self.examples, "self_excluded": self.self_excluded,
            "examples_unmatched": self.examples_unmatched, "labels_unmatched": self.labels_unmatched,
            "metrics": self.report.to_dict(),
        }
        if self.cross_validation is not None:
            folds = self.cross_validation
            result["cross_validation"] = {"k": folds.k, "seed": folds.seed, "examples_per_fold": folds.examples_per_fold,
                                          "folds": folds.folds, "category_accuracy": self.category_accuracy}
        return result

    @property
    def category_accuracy(self) -> float | None:
        """Under cross-validation, the share of labelled items whose most probable norm category (by the
        category part, learned from the other folds) is their gold one; ``None`` without a category part."""
        predicted = self.cross_validation.categories if self.cross_validation is not None else None
        if predicted is None:
            return None
        pairs = [(guess, gold) for guess, gold in zip(predicted, self.gold_categories, strict=True) if gold]
        return sum(guess == gold for guess, gold in pairs) / len(pairs) if pairs else None

    def summary_lines(self) -> list[str]:
        """What was done, in words: the lines the command writes on stderr before the table."""
        request = self.request
        where = f" to {request.output}" if request.output else ""
        lines = [f"retrieved {self.top_k} passages for each of {len(self.records)} items{where} ({self.retriever}, "
                 f"{self.passages} passages of {self.corpus}"
                 + (f", {self.examples} labelled examples" if self.examples else "") + ")"]
        for count, what in ((self.examples_unmatched, "examples"), (self.labels_unmatched, f"labelled items of {request.data.name}")):
            if count:
                lines.append(f"note: {count} {what} name a rule that is no heading of {self.corpus} "
                             "(check the label's form against the corpus's headings)")
        if self.self_excluded:
            lines.append(f"{self.self_excluded} items of {request.data.name} are also examples: each was left out of its own examples")
        if self.cross_validation is not None:
            folds = self.cross_validation
            lines.append(f"{folds.k}-fold cross-validation (seed {folds.seed}): each fold retrieved with the other folds' "
                         f"examples only ({min(folds.examples_per_fold)}–{max(folds.examples_per_fold)} examples per fold)")
            if self.category_accuracy is not None:
                lines.append(f"norm category predicted right for {self.category_accuracy:.1%} of the labelled items "
                             "(the category part, learned from the other folds)")
        if not self.report.overall.n:
            lines.append("no item has a label (output.article or --labels): no retrieval metrics")
        return lines

    def table(self):
        """The recall table (rich), or ``None`` where no item has a label."""
        if not self.report.overall.n:
            return None
        return metrics_table(self.report, title=f"retrieval: {self.request.data.name} over {self.corpus} (top {self.top_k})")

    def __rich__(self):
        from rich.console import Group
        from rich.text import Text

        table = self.table()
        return Group(Text("\n".join(self.summary_lines())), *([table] if table is not None else []))



def metrics_table(report: RetrievalReport, title: str):
    """recall@k (k up to the passages retrieved) and MRR, overall, per question type and per norm category
    (the names, read from the data and the corpus, made inert)."""
    from rich.table import Table

    from .metrics import CUTOFFS

    cutoffs = [k for k in CUTOFFS if k <= report.top_k] or [CUTOFFS[0]]
    notes = [f"{report.n_unlabelled} of {report.n_items} items without a label, not counted" if report.n_unlabelled else "",
             f"first passage of the right norm category: {report.top1_category_accuracy:.1%}"
             if report.top1_category_accuracy is not None else ""]
    table = Table(title=title, caption="\n".join(note for note in notes if note) or None)
    table.add_column("group")
    table.add_column("n", justify="right")
    for k in cutoffs:
        table.add_column(f"R@{k}", justify="right")
    table.add_column("MRR", justify="right", style="bold")

    def row(name, scores, **style):
        table.add_row(name, str(scores.n), *(format_score(scores.recall[k]) for k in cutoffs), format_score(scores.mrr), **style)

    row("overall", report.overall, style="bold")
    for name, scores in report.by_type.items():
        row(inert(name), scores)
    if report.by_category:
        table.add_section()
    for name, scores in report.by_category.items():
        row(inert(name), scores)
    return table


def _read_labels(path: Path) -> dict[str, object]:
    from ..inputs import read_json

    labels = read_json(path, what="labels file")
    if not isinstance(labels, dict):
        raise MalpyeongError(f"{path}: expected a JSON object of item id → article")
    return {str(key): value for key, value in labels.items()}


@dataclass(frozen=True)
class _Inputs:
    """A request's files, read and checked: DATA's items, the label overrides, the examples, the corpus."""

    items: list[Item]
    overrides: dict[str, object] | None
    examples: list[Example]
    corpus: Corpus


def _read_inputs(request: RetrievalRequest) -> _Inputs:
    """DATA first (its questions checked before the corpus and any model load), then the rest."""
    from ..data import load_items
    from ..outputs import check_output
    from . import load_corpus
    from .pipeline import examples_of, queries_of

    items = load_items(request.data)
    queries_of(items, str(request.data))
    if request.output is not None:
        check_output(request.output)
    overrides = _read_labels(request.labels) if request.labels is not None else None
    examples: list[Example] = []
    for path in request.example_files:
        examples += examples_of(items if path == request.data else load_items(path), overrides, str(path))
    return _Inputs(items, overrides, examples, load_corpus(request.corpus))


@dataclass(frozen=True)
class _Searched:
    """What the search wrote: the records, how they were made, the examples' self-exclusions, the folds."""

    records: list[dict]
    settings: dict[str, Any]
    self_excluded: int
    folds: CrossValidation | None


def _search(request: RetrievalRequest, inputs: _Inputs, top_k: int) -> _Searched:
    """Every item retrieved: by one retriever learned from all the examples, or fold by fold."""
    from .pipeline import cross_validate, queries_of, retrieve_into, settings_of, write_hits
    from .plan import RetrieverBuilder

    builder = RetrieverBuilder(request.resolved_plan, inputs.corpus)
    source = str(request.data)
    if request.cross_validate is None:
        engine = builder.build(inputs.examples)
        records = retrieve_into(inputs.items, engine, inputs.corpus, top_k, request.field, source=source)
        return _Searched(records, settings_of(engine.name, inputs.corpus, top_k, request.field),
                         builder.self_excluded(engine, queries_of(inputs.items, source)), None)
    folds = cross_validate(inputs.items, inputs.examples, builder, top_k, k=request.cross_validate, seed=request.seed,
                           source=source)
    settings = {**settings_of(folds.retriever, inputs.corpus, top_k, request.field),
                "cross_validation": {"k": folds.k, "seed": folds.seed}}
    return _Searched(write_hits(inputs.items, folds.hits, settings, inputs.corpus, request.field), settings, 0, folds)


def _gold_category(label: str | tuple[str, ...] | None, corpus: Corpus) -> str | None:
    """The norm category of the rule a label names: of the first passage it names, else of the label itself."""
    from .metrics import category_of

    if label is None:
        return None
    found = corpus.passages_for(label)
    return category_of(corpus.passages[found[0]].title if found else label if isinstance(label, str) else label[0]) or None


def retrieve(request: RetrievalRequest) -> RetrievalOutcome:
    """Retrieve the top-K passages of the corpus for each item of DATA (queries: its question only,
    never its answer), write them where ``request.output`` says, and measure recall where items are
    labelled."""
    from ..data import write_records
    from .metrics import retrieval_metrics
    from .pipeline import item_labels

    inputs = _read_inputs(request)
    corpus = inputs.corpus
    top_k = request.top_k
    notes: tuple[str, ...] = ()
    if top_k > len(corpus):
        notes = (f"note: --top-k {top_k} > the corpus's {len(corpus)} passages; taking all {len(corpus)}",)
        top_k = len(corpus)
    searched = _search(request, inputs, top_k)
    if request.output is not None:
        write_records(request.output, searched.records)
    gold = item_labels(inputs.items, inputs.overrides)
    categories = tuple(_gold_category(label, corpus) for label in gold)
    titles = {passage.id: passage.title for passage in corpus.passages}
    report = retrieval_metrics([[titles[pid] for pid in record["retrieval"]["passage_ids"]] for record in searched.records],
                               gold, [item.question_type for item in inputs.items], top_k, categories)
    return RetrievalOutcome(
        request=request, records=searched.records, settings=searched.settings, corpus=corpus.name,
        passages=len(corpus), examples=len(inputs.examples), self_excluded=searched.self_excluded,
        examples_unmatched=sum(1 for example in inputs.examples if not corpus.passages_for(example.label)),
        labels_unmatched=sum(1 for label in gold if label is not None and not corpus.passages_for(label)),
        report=report, cross_validation=searched.folds, notes=notes, gold_categories=categories,
    )


# -- label --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelRequest:
    """What ``malpyeong-eval label`` is asked: label DATA's answered items against CORPUS, write to ``output``."""

    data: Path
    corpus: Path
    output: Path
    method: str = "lexical"
    model: str | None = None
    candidates: int = DEFAULT_CANDIDATES
    batch_size: int = 8
    device: str | None = None

    def __post_init__(self) -> None:
        _paths(self, "data", "corpus", "output")
        if self.method not in METHODS:
            raise _refused("method", f"unknown method {self.method!r} ({' or '.join(METHODS)})")
        if self.method == "perplexity" and not self.model:
            raise MalpyeongError("--method perplexity needs --model (a causal LM id or directory)")
        _at_least("candidates", self.candidates)
        _at_least("batch_size", self.batch_size)

    @property
    def notes(self) -> tuple[str, ...]:
        """What the request sets that the method does not use."""
        return ("note: --model is only used by --method perplexity; ignored",) if self.method == "lexical" and self.model else ()


@dataclass(frozen=True)
class LabelOutcome(RichDisplay):
    """What :func:`label` wrote: the records (DATA with the labels) and the counts."""

    request: LabelRequest
    records: list[dict]
    summary: LabelSummary
    corpus: str
    corpus_hash: str
    passages: int
    candidates: int  # BM25 candidates per item that perplexity scored (at most the corpus's size)
    notes: tuple[str, ...] = ()  # said during the call (the request's own: LabelRequest.notes)

    @property
    def settings(self) -> dict[str, Any]:
        perplexity = self.request.method == "perplexity"
        return {"method": self.request.method, "model": self.request.model if perplexity else None, "corpus": self.corpus,
                "corpus_hash": self.corpus_hash, "candidates": self.candidates if perplexity else None}

    def to_json(self) -> dict[str, Any]:
        """What ``label --json`` prints."""
        return {"output": str(self.request.output), "settings": self.settings, **self.summary.to_dict()}

    def summary_lines(self) -> list[str]:
        request, summary = self.request, self.summary
        lines = [f"wrote {summary.n_items} items to {request.output}: {summary.n_written} labels written into output.article, "
                 f"{summary.n_kept} given labels kept, {summary.n_skipped} items without an answer copied unchanged "
                 f"({request.method}{', ' + str(request.model) if request.method == 'perplexity' else ''}; "
                 f"{self.passages} passages of {self.corpus})"]
        if not summary.agreement.n:
            lines.append("no item carried a label (output.article): no agreement to report")
        return lines

    def table(self):
        from rich.table import Table

        summary = self.summary
        table = Table(title=f"labels: {self.request.data.name} over {self.corpus} ({self.request.method})")
        for column in ("items", "labelled", "written", "kept as given", "skipped (no answer)", "agreement", "n"):
            table.add_column(column, justify="right")
        table.add_row(str(summary.n_items), str(summary.n_labelled), str(summary.n_written), str(summary.n_kept),
                      str(summary.n_skipped), format_score(summary.agreement.share), str(summary.agreement.n))
        return table

    def __rich__(self):
        from rich.console import Group
        from rich.text import Text

        return Group(Text("\n".join(self.summary_lines())), self.table())



Progress = Callable[[int, int], None]


def label(request: LabelRequest, *, progress: Progress | None = None) -> LabelOutcome:
    """Label each answered item of DATA with the rule its answer is about; write DATA with the labels.

    ``progress``: for ``perplexity``, called with (sequences scored, all of them) as scoring goes.
    """
    from ..data import load_items, write_records
    from ..outputs import check_output
    from . import labelling, load_corpus

    items = load_items(request.data)
    positions = [i for i, item in enumerate(items) if labelling.has_answer(item)]
    if not positions:
        raise MalpyeongError(f"{request.data}: no item has an answer (output.answer) to label from")
    check_output(request.output)
    corpus = load_corpus(request.corpus)
    notes: tuple[str, ...] = ()
    candidates = request.candidates
    if request.method == "perplexity" and candidates > len(corpus):
        notes += (f"note: --candidates {candidates} > the corpus's {len(corpus)} passages; scoring all {len(corpus)}",)
        candidates = len(corpus)
    answered = [items[i] for i in positions]
    if request.method == "lexical":
        labels = labelling.lexical_labels(corpus, [item.answer or "" for item in answered])
    else:
        assert request.model is not None  # a perplexity request has a model
        scorer = labelling.AnswerScorer(request.model, device=request.device)
        labels = labelling.perplexity_labels(corpus, answered, scorer, candidates=candidates,
                                             batch_size=request.batch_size, progress=progress)
    written, summary = labelling.write_labels(items, dict(zip(positions, labels, strict=True)), corpus)
    write_records(request.output, written)
    return LabelOutcome(request, written, summary, corpus.name, corpus.sha256, len(corpus), candidates, notes)
