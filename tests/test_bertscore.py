import pytest

from malpyeong_eval.errors import ModelLoadError
from malpyeong_eval.metrics.bertscore import BertScoreScorer, default_layer
from malpyeong_eval.parsing import split_answer


@pytest.mark.parametrize("layer", [1, 2])
def test_equals_bert_score_score_on_same_model_and_layer(tiny_bert, sample_texts, layer):
    pairs = [(split_answer(g).reason, split_answer(p).reason) for g, p in zip(sample_texts[:40], sample_texts[40:], strict=True)]
    references, predictions = map(list, zip(*[(g, p) for g, p in pairs if g and p], strict=True))
    references.append("같은 문장")
    predictions.append("같은 문장")
    ours = BertScoreScorer(tiny_bert, num_layers=layer, device="cpu", batch_size=7).score(references, predictions)
    import bert_score  # here: the reference library, not needed to collect the tests

    _, _, expected = bert_score.score(predictions, references, model_type=tiny_bert, num_layers=layer, device="cpu")
    assert ours == pytest.approx(expected.tolist(), abs=1e-6)
    assert ours[-1] == pytest.approx(1.0, abs=1e-6)


def test_empty_reason_scores_zero_as_bert_score_does(tiny_bert):
    scores = BertScoreScorer(tiny_bert, num_layers=2, device="cpu").score(["이유", "", "이유"], ["", "이유", "이유"])
    assert scores[:2] == [0.0, 0.0] and scores[2] == pytest.approx(1.0, abs=1e-6)


def test_config_names_model_layer_and_versions(tiny_bert):
    config = BertScoreScorer(tiny_bert, num_layers=2, device="cpu").config
    assert tiny_bert in config and "_L2_" in config and "no-idf" in config and "hug_trans=" in config


def test_contest_model_defaults_to_layer_9():
    assert default_layer("bert-base-multilingual-cased") == 9
    assert default_layer("/models/bert-base-multilingual-cased") == 9


def test_unknown_model_needs_layers(tiny_bert):
    with pytest.raises(ModelLoadError, match="--bertscore-layers"):
        BertScoreScorer(tiny_bert, device="cpu")


def test_missing_model_is_one_clear_line(tmp_path):
    with pytest.raises(ModelLoadError) as info:
        BertScoreScorer(str(tmp_path / "nope"), num_layers=2, device="cpu")
    message = str(info.value)
    assert "nope" in message and "--bertscore-model" in message and "\n" not in message


def test_embedding_cache_reused_across_calls_gives_same_values(tiny_bert, sample_texts):
    references = [split_answer(t).reason for t in sample_texts[:8] if split_answer(t).reason]
    predictions = [split_answer(t).reason for t in sample_texts[40:48] if split_answer(t).reason][: len(references)]
    references = references[: len(predictions)]
    cold = BertScoreScorer(tiny_bert, num_layers=2, device="cpu", cache_size=0)
    warm = BertScoreScorer(tiny_bert, num_layers=2, device="cpu", cache_size=4)
    first = warm.score(references, predictions)
    assert len(warm._embeddings) == 4  # bounded
    assert warm.score(references, predictions) == pytest.approx(first, abs=1e-6)
    assert cold.score(references, predictions) == pytest.approx(first, abs=1e-6)
    assert len(cold._embeddings) == 0


def _memory_cap(monkeypatch, module, name: str, limit: int, sizes: list[int]) -> None:
    """A test-only memory cap: ``module.name`` (a batched forward pass) raises torch's real
    ``OutOfMemoryError`` on a batch of more than ``limit`` texts; ``sizes`` records each batch tried."""
    import torch

    real = getattr(module, name)

    def capped(texts, *args, **kwargs):
        sizes.append(len(texts))
        if len(texts) > limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (test cap)")
        return real(texts, *args, **kwargs)

    monkeypatch.setattr(module, name, capped)


def test_batch_size_auto_halves_on_out_of_memory_and_scores_as_a_fixed_size(tiny_bert, sample_texts, monkeypatch):
    from malpyeong_eval.metrics import bertscore

    reasons = [split_answer(t).reason for t in sample_texts if split_answer(t).reason]
    references, predictions = reasons[:20], reasons[20:40]
    fixed = BertScoreScorer(tiny_bert, num_layers=2, device="cpu", cache_size=0).score(references, predictions, 4)
    sizes: list[int] = []
    _memory_cap(monkeypatch, bertscore, "bert_embeddings", 5, sizes)
    scorer = BertScoreScorer(tiny_bert, num_layers=2, device="cpu", cache_size=0)
    assert scorer.score(references, predictions, "auto") == pytest.approx(fixed, abs=1e-6)
    assert sizes[0] == 40 and max(size for size in sizes if size <= 5) == 5 and scorer.batch.fitted == 5
    sizes.clear()
    scorer.score(references, predictions, "auto")  # the next call starts from the size that fitted
    assert max(sizes) == 5
