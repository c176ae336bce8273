"""Rule labels (``output.article``) for contest items that have a gold answer but no label.

Labelling may look at the gold answer (it is not evaluation: the labels are what recall is
later measured against, or the gold context of a GRPO item). Two methods:

- ``lexical`` (:func:`lexical_labels`): BM25 (Mecab morphemes, the ``retrieve`` index) over the
  corpus with the gold answer's *reason* (the organizers' split, :func:`~malpyeong_eval.parsing.split_answer`)
  as the query, or the whole answer where the split finds no reason. The question's quoted
  sentence is not added: on the packaged sample it changes no label (39 of 40 agree with the
  given ones either way) and it brings in the sentence's content words, which name no rule. The
  label is the best passage's title; its BM25 score, the runner-up's and their margin are kept
  so that a user can threshold.
- ``perplexity`` (:func:`perplexity_labels`): the candidates are the top N passages of that
  BM25 ranking; for each, a causal LM's log-likelihood of the gold answer as the assistant turn
  of the contest prompt with the passage as ``input.references`` (the ``[기타 정보]`` block),
  minus the log-likelihood of the same answer with no passage. The label is the candidate with
  the highest gain. See :class:`AnswerScorer` for which tokens count.

Where an item already carries a label, a label is computed anyway and compared
(:func:`agreement`); :func:`write_labels` keeps the given one in ``output.article``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..data import Item
from ..errors import MalpyeongError
from ..parsing import split_answer
from .base import Hit
from .corpus import Corpus
from .metrics import is_relevant

if TYPE_CHECKING:  # the prompts import the citation reader, which imports this package
    from ..prompts import ContestPrompt

__all__ = [
    "METHODS", "Agreement", "AnswerScorer", "Label", "LabelSummary", "LogLikelihood", "agreement", "has_answer", "lexical_labels",
    "lexical_query", "perplexity_labels", "write_labels",
]

METHODS = ("lexical", "perplexity")
DEFAULT_CANDIDATES = 8
Progress = Callable[[int, int], None]  # (sequences scored so far, all of them)


@dataclass(frozen=True)
class Label:
    """One item's label: the chosen passage (its index in the corpus) and the item's ``labelling`` record."""

    passage: int
    record: dict[str, Any]


@dataclass(frozen=True)
class LogLikelihood:
    """Sum of the answer tokens' log-probabilities (natural log) and how many tokens there were."""

    total: float
    tokens: int

    @property
    def mean(self) -> float:
        """Per answer token."""
        return self.total / self.tokens


@dataclass(frozen=True)
class Agreement:
    """How many items carry a given label (``n``) and how many of our labels are relevant to it."""

    n: int
    agreeing: int

    @property
    def share(self) -> float | None:
        return self.agreeing / self.n if self.n else None

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "agreeing": self.agreeing, "share": self.share}


@dataclass(frozen=True)
class LabelSummary:
    """What :func:`write_labels` did: items read, labelled, labels written and given ones kept, items
    skipped (no answer), and the agreement with the given labels."""

    n_items: int
    n_labelled: int
    n_written: int
    n_kept: int
    n_skipped: int
    agreement: Agreement

    def to_dict(self) -> dict[str, Any]:
        return {"n_items": self.n_items, "n_labelled": self.n_labelled, "n_written": self.n_written, "n_kept": self.n_kept,
                "n_skipped": self.n_skipped, "agreement": self.agreement.to_dict()}


def has_answer(item: Item) -> bool:
    """Whether an item has a gold answer to label from (a non-blank ``output.answer``)."""
    return isinstance(item.answer, str) and bool(item.answer.strip())


def lexical_query(answer: str) -> str:
    """The BM25 query of a gold answer: its reason, or the whole answer where it has none.

    >>> lexical_query('"라면이 붇기 전에 먹어라."가 옳다. 어간의 형태가 바뀌지 않아 붇기로 적는다.')
    '어간의 형태가 바뀌지 않아 붇기로 적는다.'
    """
    return split_answer(answer).reason or answer.strip()


def _candidates(corpus: Corpus, texts: Sequence[str], n: int) -> list[list[Hit]]:
    """BM25's top ``n`` passages for each text, best first: the one call of the retriever's query interface."""
    from .bm25 import BM25Retriever

    return BM25Retriever(corpus).search_texts(list(texts), n)


def _settings(method: str, corpus: Corpus) -> dict[str, Any]:
    return {"method": method, "corpus": corpus.name, "corpus_hash": corpus.sha256}


def _choice(corpus: Corpus, ranked: Sequence[tuple[int, float]]) -> dict[str, Any]:
    """The best passage of ``ranked`` (index, score; best first) with the runner-up and the margin."""
    best_index, best = ranked[0]
    runner_up = ranked[1] if len(ranked) > 1 else None
    return {
        "passage_id": corpus.passages[best_index].id,
        "title": corpus.passages[best_index].title,
        "score": best,
        "runner_up_id": corpus.passages[runner_up[0]].id if runner_up else None,
        "runner_up_score": runner_up[1] if runner_up else None,
        "margin": best - runner_up[1] if runner_up else None,
    }


def lexical_labels(corpus: Corpus, answers: Sequence[str]) -> list[Label]:
    """The BM25-best passage of each answer's :func:`lexical_query`; ``score`` is its BM25 score."""
    labels = []
    for hits in _candidates(corpus, [lexical_query(answer) for answer in answers], 2):
        ranked = [(index, round(score, 6)) for index, score in hits]
        labels.append(Label(ranked[0][0], {**_settings("lexical", corpus), **_choice(corpus, ranked)}))
    return labels


class AnswerScorer:
    """Log-likelihoods of gold answers under a causal LM, as the assistant turn of the contest prompt.

    Which tokens are the answer's: the conversation is rendered twice with the tokenizer's chat
    template (``enable_thinking=False``): the prompt with the generation prompt, and the full
    conversation with the answer as the assistant turn. Both are tokenized (no special tokens
    added: the template writes them); the full token ids must begin with the prompt's, and the
    answer tokens are the rest, i.e. the assistant turn as the template writes it: the answer, the
    end-of-turn token and what the template puts after it (Qwen: ``<|im_end|>`` and a newline).
    A template that renders the conversation otherwise is refused (one line). A tokenizer
    without a chat template gets the plain-text prompt of :func:`~malpyeong_eval.generation.render_prompts`
    followed by the answer and the EOS token.

    The log-likelihood is the sum (not the mean) of those tokens' log-probabilities,
    the log-softmax of the logits at the position before each, computed and summed in float64
    (a float32 sum of a hundred terms near -6 is off by about 1e-4). Sequences are scored
    in batches sorted by length, left-padded with the attention mask and explicit position ids,
    so a padded row scores as it would alone; only the logits of the answer positions are kept.
    """

    def __init__(self, model: str, *, device: str | None = None, trust_remote_code: bool = False) -> None:
        from ..errors import ModelLoadError
        from ..generation import load_causal_lm

        if Path(model).is_dir() and not (Path(model) / "config.json").exists():
            raise ModelLoadError(f"--model: {model} is not a model directory (no config.json)")
        self.model, self.tokenizer, self.device = load_causal_lm(model, device=device, flag="--model",
                                                                 trust_remote_code=trust_remote_code)
        self.name = model
        self._keeps_logits = "logits_to_keep" in inspect.signature(self.model.forward).parameters

    def texts(self, prompt: ContestPrompt, item: Item) -> tuple[str, str]:
        """(prompt text, full conversation text) of ``item`` with its ``answer`` as the assistant turn."""
        from ..generation import render_prompts

        prompt_text = render_prompts(self.tokenizer, prompt, [item])[0]
        answer = item.answer or ""
        if not getattr(self.tokenizer, "chat_template", None):
            return prompt_text, prompt_text + answer + (self.tokenizer.eos_token or "")
        conversation = [*prompt.item_messages(item), {"role": "assistant", "content": answer}]
        full = self.tokenizer.apply_chat_template(conversation, tokenize=False, enable_thinking=False)
        return prompt_text, full

    def token_ids(self, prompt_text: str, full_text: str, item_id: str = "?") -> tuple[list[int], int]:
        """(token ids of the full text, how many of them are the answer's); a text longer than the model's
        context is refused (one line naming ``item_id``), before any of it reaches the model."""
        from ..metrics.loading import quiet_hub_logs

        with quiet_hub_logs():  # no "longer than the maximum" notice: the check below says it in one line
            prompt_ids = self.tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
            full_ids = self.tokenizer(full_text, add_special_tokens=False)["input_ids"]
        context = getattr(self.model.config, "max_position_embeddings", None)
        if context and len(full_ids) > context:
            raise MalpyeongError(f"item {item_id}: its prompt and answer (with a candidate passage) are {len(full_ids):,} tokens, "
                                 f"more than the model's context of {context:,} (--model {self.name}): shorten the answer, "
                                 "or label it with --method lexical")
        if full_ids[: len(prompt_ids)] != prompt_ids or len(full_ids) == len(prompt_ids):
            raise MalpyeongError(
                f"--model {self.name!r}: its chat template does not write the conversation as the generation "
                "prompt followed by the answer, so the answer's tokens cannot be told apart"
            )
        return full_ids, len(full_ids) - len(prompt_ids)

    def log_likelihoods(self, sequences: Sequence[tuple[list[int], int]], batch_size: int = 8,
                        progress: Progress | None = None) -> list[LogLikelihood]:
        """The :class:`LogLikelihood` of each (token ids, answer length) of :meth:`token_ids`."""
        import torch

        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i][0]), reverse=True)
        results: list[LogLikelihood | None] = [None] * len(sequences)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        for start in range(0, len(order), batch_size):
            indices = order[start: start + batch_size]
            rows = [sequences[i] for i in indices]
            width = max(len(ids) for ids, _ in rows)
            keep = max(answer for _, answer in rows) + 1  # the answer positions and the one before them
            input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            answer_mask = torch.zeros((len(rows), keep - 1), dtype=torch.bool)
            for row, (ids, answer) in enumerate(rows):
                input_ids[row, width - len(ids):] = torch.tensor(ids)
                mask[row, width - len(ids):] = 1
                answer_mask[row, keep - 1 - answer:] = True
            positions = (mask.cumsum(dim=1) - 1).clamp(min=0)
            options = {"logits_to_keep": keep} if self._keeps_logits else {}
            with torch.inference_mode():
                logits = self.model(input_ids=input_ids.to(self.device), attention_mask=mask.to(self.device),
                                    position_ids=positions.to(self.device), **options).logits[:, -keep:]
                logits = logits[:, :-1].double()
                targets = input_ids[:, width - keep + 1:].to(self.device)
                token_log_probs = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - logits.logsumexp(dim=-1)
                sums = (token_log_probs * answer_mask.to(self.device)).sum(dim=1).tolist()
            for row, i in enumerate(indices):
                results[i] = LogLikelihood(sums[row], rows[row][1])
            if progress is not None:
                progress(min(start + batch_size, len(order)), len(order))
        return results  # type: ignore[return-value]


def perplexity_labels(corpus: Corpus, items: Sequence[Item], scorer: AnswerScorer, *,
                      candidates: int = DEFAULT_CANDIDATES, batch_size: int = 8, prompt: ContestPrompt | None = None,
                      progress: Progress | None = None) -> list[Label]:
    """Each item's candidate (BM25's top ``candidates`` for its reason) with the highest log-likelihood gain.

    The prompt holds the item's question and type only, with the candidate as
    ``input.references = [passage.render()]`` (the item's own extra input fields are left out,
    so that the gain is the passage's alone). ``score`` is the chosen candidate's gain (a sum over
    the answer tokens, in nats); each candidate's log-likelihood, gain and gain per token are in
    ``candidates``, the no-passage log-likelihood in ``without_passage``.
    """
    from ..prompts import load_prompt

    prompt = prompt or load_prompt()
    rankings = _candidates(corpus, [lexical_query(item.answer or "") for item in items], candidates)
    plans: list[tuple[list[int], int]] = []  # per item: the no-passage sequence, then one per candidate
    for item, ranked in zip(items, rankings, strict=True):
        bare = Item(item.id, item.question_type, item.question, item.answer)
        variants = [bare] + [Item(item.id, item.question_type, item.question, item.answer,
                                  extra_inputs={"references": [corpus.passages[index].render()]})
                             for index, _ in ranked]
        plans += [scorer.token_ids(*scorer.texts(prompt, variant), item.id) for variant in variants]
    scores = iter(scorer.log_likelihoods(plans, batch_size, progress))
    labels = []
    for ranked in rankings:
        without = next(scores)
        scored = [(index, bm25, next(scores)) for index, bm25 in ranked]
        table = [
            {"passage_id": corpus.passages[index].id, "title": corpus.passages[index].title, "bm25": round(bm25, 6),
             "log_likelihood": ll.total, "log_likelihood_per_token": ll.mean, "gain": ll.total - without.total,
             "gain_per_token": (ll.total - without.total) / ll.tokens}
            for index, bm25, ll in scored
        ]
        gains = [ll.total - without.total for _, _, ll in scored]
        by_gain = sorted(range(len(scored)), key=lambda i: gains[i], reverse=True)
        choice = _choice(corpus, [(scored[i][0], gains[i]) for i in by_gain])
        labels.append(Label(scored[by_gain[0]][0], {
            **_settings("perplexity", corpus), "model": scorer.name, "prompt": prompt.id, **choice,
            "answer_tokens": without.tokens,
            "without_passage": {"log_likelihood": without.total, "log_likelihood_per_token": without.mean},
            "candidates": table,
        }))
    return labels


def agreement(titles: Sequence[str], given: Sequence[str | None]) -> Agreement:
    """Of the items with a given label, how many have a label (title) :func:`is_relevant` to it.

    >>> agreement(["<a - 제1항>", "<a - 제2항>", "<a - 제3항>"], ["a - 제1항", "<a - 제1항>", None]).to_dict()
    {'n': 2, 'agreeing': 1, 'share': 0.5}
    """
    pairs = [(title, label) for title, label in zip(titles, given, strict=True) if label]
    return Agreement(len(pairs), sum(is_relevant(title, label) for title, label in pairs))


def _given(item: Item) -> str | None:
    return item.article if item.article and item.article.strip() else None


def write_labels(items: Sequence[Item], labels: Mapping[int, Label],
                 corpus: Corpus) -> tuple[list[dict], LabelSummary]:
    """The items' records (:meth:`Item.as_record`) with the ``labels`` (by position) written in, and a summary.

    A labelled record gets a top-level ``labelling`` (the label's record and
    ``agrees_with_given``: ``None`` where it had no label) and, where it had no
    ``output.article``, the chosen passage's title there; a given label is kept. Records without
    a label (no answer) are copied unchanged. Every other field is kept as it is.
    """
    written, ours, given = [], [], []
    for position, item in enumerate(items):
        copied = item.as_record()
        label = labels.get(position)
        if label is not None:
            title, existing = corpus.passages[label.passage].title, _given(item)
            copied["labelling"] = {**label.record,
                                   "agrees_with_given": None if existing is None else is_relevant(title, existing)}
            if existing is None:
                copied["output"] = {**copied["output"], "article": title}
            ours.append(title)
            given.append(existing)
        written.append(copied)
    kept = sum(1 for label in given if label is not None)
    return written, LabelSummary(len(written), len(ours), len(ours) - kept, kept, len(written) - len(ours), agreement(ours, given))
