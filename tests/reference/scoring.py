"""A deliberately plain restatement of malpyeong_eval/docs/scoring.md §2 (the split) and §3 (the metrics).

Derived from the spec text (malpyeong_eval/docs/scoring.md), not from ``malpyeong_eval``: nothing
here imports or copies the package's scorer, and every line is commented with the spec step it
implements. A test of the package against this module therefore proves fidelity to the spec; a
test of the package against itself proves only consistency. Used by
``tests/test_official_scoring.py`` as the reference the CLI's numbers must equal.

Model-based metrics (the spec names real models; the tests use tiny local ones):
- BERTScore: ``bert_score.score`` itself, called on the counted pairs only, as the organizers call
  it (§3 "BERTScore": F1, no idf, no baseline rescaling).
- BLEURT: ``tests/reference/bleurt.direct_bleurt``, a forward pass written by hand over the raw
  ``bleurt.*`` tensors (no transformers, no package code), on the counted pairs only.
- ROUGE-1: ``tests/reference/rouge.plain_rouge1``, the plain five-step ROUGE-1 of §3.
"""

from __future__ import annotations

from collections import defaultdict

from tests.reference.bleurt import direct_bleurt
from tests.reference.rouge import plain_rouge1

# §2 step 1: the two literal patterns, each with exactly one ASCII space.
PATTERN_GA = "가 옳다"
PATTERN_I = "이 옳다"


def split(text: str) -> tuple[str, str]:
    """§2: (answer clause, reason) of one answer text, gold and prediction alike."""
    # §2.1: look for the literal `가 옳다` anywhere in the text (first occurrence) ...
    pattern = PATTERN_GA
    position = text.find(pattern)
    if position < 0:
        # §2.1: ... only if it does not occur, look for the literal `이 옳다` (first occurrence).
        pattern = PATTERN_I
        position = text.find(pattern)
    if position < 0:
        # §2.3: neither pattern: the clause is the whole text stripped, the reason is empty.
        return text.strip(), ""
    end = position + len(pattern)
    # §2.2: clause = the text up to and including the pattern, str.strip()ped (NBSP included).
    clause = text[:end].strip()
    # §2.2: reason = the rest, stripped, then every leading `.`, `,` and space removed.
    reason = text[end:].strip().lstrip("., ")
    return clause, reason


def normalize_clause(clause: str) -> str:
    """§3 Exact Match normalization: delete every `"` and `'`, then strip. Nothing else."""
    # §3: deleting every `"` and `'` (no curly-quote mapping, no NBSP mapping, no collapsing).
    without_quotes = clause.replace('"', "").replace("'", "")
    # §3: ... and stripping.
    return without_quotes.strip()


def exact_match(pred_answer: str, gold_answer: str) -> float:
    """§3 Exact Match of one item, on the answer clauses of §2."""
    # §3 "computed on answer clause": the clauses of both texts, split as in §2.
    pred_clause = split(pred_answer)[0]
    gold_clause = split(gold_answer)[0]
    # §3: both clauses normalized (quotes deleted, stripped).
    prediction = normalize_clause(pred_clause)
    gold = normalize_clause(gold_clause)
    # §3: the gold clause may list alternatives separated by `#`; each alternative stripped.
    alternatives = [alternative.strip() for alternative in gold.split("#")]
    # §3: 1 if the stripped prediction equals any stripped alternative, else 0.
    return 1.0 if prediction.strip() in alternatives else 0.0


def counted(gold_reason: str, pred_reason: str) -> bool:
    """§3 "Counted items": both the gold reason and the predicted reason are non-empty."""
    return gold_reason != "" and pred_reason != ""


def rouge1(gold_reason: str, pred_reason: str) -> float:
    """§3 ROUGE-1 steps 1-4 on the reasons: per-item F (plain implementation, shares no code)."""
    return plain_rouge1(gold_reason, pred_reason)


def bertscore_counted(gold_reasons: list[str], pred_reasons: list[str], model: str, num_layers: int) -> list[float]:
    """§3 BERTScore: F1 of ``bert_score`` on the counted pairs (the organizers pass only those)."""
    import bert_score

    if not gold_reasons:
        return []
    # §3: F1 of bert_score, no idf, no baseline rescaling; candidates = predictions, refs = gold.
    _, _, f1 = bert_score.score(
        cands=pred_reasons, refs=gold_reasons, model_type=model, num_layers=num_layers, device="cpu",
        idf=False, rescale_with_baseline=False,
    )
    return [float(value) for value in f1.tolist()]


def bleurt_counted(gold_reasons: list[str], pred_reasons: list[str], model: str) -> list[float]:
    """§3 BLEURT: score of (reference = gold reason, candidate = predicted reason), counted pairs."""
    # §3: BLEURT(reference=gold reason, candidate=predicted reason), raw head output.
    return [direct_bleurt(model, gold, prediction) for gold, prediction in zip(gold_reasons, pred_reasons, strict=True)]


def score_items(golds: list[str], predictions: list[str], with_models: dict | None = None) -> list[dict]:
    """Per-item reference values. ``with_models``: {"bert": dir, "bert_layers": n, "bleurt": dir} or None."""
    rows = []
    for gold, prediction in zip(golds, predictions, strict=True):
        # §2: split gold and prediction alike.
        answer_clause, reason = split(prediction)
        _, gold_reason = split(gold)
        row = {
            "answer_clause": answer_clause,
            "reason": reason,
            "gold_reason": gold_reason,
            # §3: Exact Match on the answer clause, for every item.
            "exact_match": exact_match(prediction, gold),
            # §3 "Counted items": both reasons non-empty.
            "counted": counted(gold_reason, reason),
        }
        # §3: ROUGE-1 only matters for counted items (the others drop out of the mean).
        row["rouge1"] = rouge1(gold_reason, reason) if row["counted"] else None
        rows.append(row)
    if with_models:
        # §3: the model metrics are computed on the counted pairs only.
        indices = [i for i, row in enumerate(rows) if row["counted"]]
        gold_reasons = [rows[i]["gold_reason"] for i in indices]
        pred_reasons = [rows[i]["reason"] for i in indices]
        bert = bertscore_counted(gold_reasons, pred_reasons, with_models["bert"], with_models["bert_layers"])
        bleurt = bleurt_counted(gold_reasons, pred_reasons, with_models["bleurt"])
        for row in rows:
            row["bertscore"] = row["bleurt"] = None
        for i, b, t in zip(indices, bert, bleurt, strict=True):
            rows[i]["bertscore"], rows[i]["bleurt"] = b, t
    return rows


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def aggregate(rows: list[dict], reason_metrics: tuple[str, ...] = ("rouge1", "bertscore", "bleurt")) -> dict:
    """§3 means of one set of items (all items, or one question_type group)."""
    result = {"n": len(rows)}
    # §3 Exact Match: mean over **all** items.
    result["exact_match"] = _mean([row["exact_match"] for row in rows]) if rows else 0.0
    counted_rows = [row for row in rows if row["counted"]]
    result["n_counted"] = len(counted_rows)
    for key in reason_metrics:
        # §3 ROUGE-1 / BERTScore / BLEURT: mean over **counted** items; with none counted, 0.
        result[key] = _mean([row[key] for row in counted_rows]) if counted_rows else 0.0
    if set(reason_metrics) == {"rouge1", "bertscore", "bleurt"}:
        # §3 Descriptive Avg: mean of the three; 0 when no item is counted.
        if counted_rows:
            result["descriptive_avg"] = (result["rouge1"] + result["bertscore"] + result["bleurt"]) / 3
        else:
            result["descriptive_avg"] = 0.0
        # §3 Final Score: mean(Exact Match, Descriptive Avg).
        result["final_score"] = (result["exact_match"] + result["descriptive_avg"]) / 2
    return result


def aggregate_by_type(rows: list[dict], types: list[str], reason_metrics: tuple[str, ...] = ("rouge1", "bertscore", "bleurt")) -> dict:
    """The same rule per question_type group (every string its own group)."""
    groups: dict[str, list[dict]] = defaultdict(list)
    for row, question_type in zip(rows, types, strict=True):
        groups[question_type].append(row)
    return {question_type: aggregate(group, reason_metrics) for question_type, group in groups.items()}
