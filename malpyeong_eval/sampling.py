"""Sample and select: N candidate answers per item, one of them submitted (``run --samples N --select RULE``).

A :class:`Sampling` value says how many candidates an item gets and the
:class:`~malpyeong_eval.selection.SelectionRule` that chooses among them; greedy decoding of one
answer (``Sampling()``) is the default and changes nothing. Candidate ``k`` of every item is drawn
with the run's decoding settings and the seed ``SEED + k`` (:meth:`Sampling.settings`), so each
backend draws the candidates the same way: transformers and vLLM in one pass over the items per
candidate, a served endpoint with one request per item and candidate. :func:`choose_candidates`
applies the rule (:func:`~malpyeong_eval.selection.select`: its utilities computed once per
candidate) and marks what it measured on each candidate, which the run keeps in ``generations.jsonl``.

>>> recorded = Sampling(8, "mbr: rouge1").record()
>>> recorded["samples"], recorded["select"], recorded["select_config"].startswith("select(mbr:rouge1;rouge1(")
(8, 'mbr:rouge1', True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Union

from .errors import MalpyeongError
from .generation import MAX_SEED, GenerationSettings
from .metrics.options import ScorerOptions
from .selection import SELECT_FLAG, SelectionRule, select
from .submission import Generation

__all__ = ["SAMPLES_FLAG", "Sampling", "choose_candidates"]

SAMPLES_FLAG = "--samples"


@dataclass(frozen=True)
class Sampling:
    """``n`` candidates per item and the ``rule`` that chooses one (text is parsed:
    :meth:`SelectionRule.parse`). ``n`` 1 without a rule: the one generation of a plain run.
    Refuses a rule without candidates to choose among, and candidates without a rule."""

    n: int = 1
    rule: Union[SelectionRule, str, None] = None

    def __post_init__(self) -> None:
        if isinstance(self.rule, str):
            object.__setattr__(self, "rule", SelectionRule.parse(self.rule))
        if isinstance(self.n, bool) or not isinstance(self.n, int) or not 1 <= self.n <= MAX_SEED:
            raise MalpyeongError(f"{SAMPLES_FLAG} {self.n!r}: must be a whole number from 1")
        if self.rule is not None and self.n < 2:
            raise MalpyeongError(f"{SELECT_FLAG} chooses among candidates: give {SAMPLES_FLAG} N (2 or more) with it")
        if self.n > 1 and self.rule is None:
            raise MalpyeongError(f"{SAMPLES_FLAG} {self.n} needs {SELECT_FLAG} RULE to choose the answer "
                                 f"(vote, mbr:rouge1, vote+mbr:rouge1,bertscore ...)")

    @property
    def enabled(self) -> bool:
        """Whether items get several candidates (and a rule chooses)."""
        return self.n > 1

    @property
    def selection_rule(self) -> SelectionRule:
        """The rule (only asked of an enabled sampling, which has one)."""
        if not isinstance(self.rule, SelectionRule):
            raise MalpyeongError(f"{SAMPLES_FLAG} 1 chooses nothing")
        return self.rule

    def settings(self, settings: GenerationSettings, candidate: int) -> GenerationSettings:
        """The decoding of candidate ``candidate``: ``settings`` with the seed ``settings.seed + candidate``."""
        return settings if candidate == 0 else replace(settings, seed=settings.seed + candidate)

    def record(self, options: ScorerOptions = ScorerOptions()) -> dict[str, Any]:
        """What a run records of it (and its generations' key names): the number of candidates, the
        rule and its utilities' configuration (:meth:`SelectionRule.config`); empty for a plain run."""
        if not self.enabled:
            return {}
        rule = self.selection_rule
        return {"samples": self.n, "select": rule.describe(), "select_config": rule.config(options)}


def choose_candidates(sampling: Sampling, candidates: Sequence[Sequence[Generation]],
                      options: ScorerOptions = ScorerOptions()) -> list[list[Generation]]:
    """Each item's candidates (``candidates[i]``, in candidate order) with what the rule measured of
    each (``score``) and the one it chose marked ``chosen``; utilities computed with ``options``."""
    selections = select(sampling.selection_rule, [[candidate.prediction for candidate in item] for item in candidates],
                        options)
    return [[replace(candidate, score=score, chosen=index == selection.chosen)
             for index, (candidate, score) in enumerate(zip(item, selection.candidates, strict=True))]
            for item, selection in zip(candidates, selections, strict=True)]
