import bert_score
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
