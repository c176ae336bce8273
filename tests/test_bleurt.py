"""BLEURT: the loader reads the lucadiliello/BLEURT-20 layout and equals a direct forward pass."""

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file

from malpyeong_eval.errors import ModelLoadError
from malpyeong_eval.metrics.bleurt import BleurtScorer
from tests.reference.bleurt import direct_bleurt


PAIRS = [
    ("'붇다'는 불규칙 용언이다.", "'붇다'는 불규칙 용언이다."),
    ("의존 명사는 띄어 쓴다.", "의존명사는 붙여 쓴다."),
    ("짧다.", "이 설명은 참조보다 훨씬 길어서 배치 안에서 패딩이 많이 생기는 경우를 시험한다."),
    ("", "빈 참조"),
    ("빈 후보", ""),
]


def test_scores_equal_direct_forward_pass(tiny_bleurt):
    references, candidates = zip(*PAIRS, strict=True)
    scores = BleurtScorer(tiny_bleurt, device="cpu", batch_size=2).score(list(references), list(candidates))
    expected = [direct_bleurt(tiny_bleurt, r, c) for r, c in PAIRS]
    assert scores == pytest.approx(expected, abs=1e-5)
    assert len(set(round(s, 6) for s in scores)) > 1  # the tiny model does discriminate


def test_reference_and_candidate_take_segment_ids_0_and_1(tiny_bleurt):
    scorer = BleurtScorer(tiny_bleurt, device="cpu")
    ids, segments = scorer.tokenizer.encode_pair("의존 명사", "띄어 쓴다")
    sp = scorer.tokenizer.processor
    ref_len = len(sp.encode("의존 명사"))
    assert ids[0] == sp.piece_to_id("[CLS]") and ids[ref_len + 1] == sp.piece_to_id("[SEP]") and ids[-1] == sp.piece_to_id("[SEP]")
    assert segments == [0] * (ref_len + 2) + [1] * (len(ids) - ref_len - 2)
    forward, backward = scorer.score(["의존 명사", "띄어 쓴다"], ["띄어 쓴다", "의존 명사"])
    assert forward != pytest.approx(backward)  # order (and segment) matters, as in BLEURT


def test_long_pairs_truncate_longest_first_to_512(tiny_bleurt):
    scorer = BleurtScorer(tiny_bleurt, device="cpu")
    long_text = "의존 명사는 띄어 쓴다 " * 300
    ids, segments = scorer.tokenizer.encode_pair(long_text, "짧은 후보")
    assert len(ids) == 512 and segments.count(1) == len(scorer.tokenizer.processor.encode("짧은 후보")) + 1
    assert len(scorer.score([long_text], [long_text])) == 1


def test_loads_pytorch_bin_with_weights_only(tiny_bleurt, tmp_path):
    copy = tmp_path / "bin"
    shutil.copytree(tiny_bleurt, copy)
    torch.save(load_file(str(copy / "model.safetensors")), copy / "pytorch_model.bin")
    (copy / "model.safetensors").unlink()
    assert BleurtScorer(str(copy), device="cpu").score(["가"], ["나"]) == pytest.approx(
        BleurtScorer(tiny_bleurt, device="cpu").score(["가"], ["나"]), abs=1e-6
    )


class _Evil:
    def __reduce__(self):
        return (print, ("unpickled!",))


def test_refuses_pickled_code(tiny_bleurt, tmp_path):
    copy = tmp_path / "evil"
    shutil.copytree(tiny_bleurt, copy)
    (copy / "model.safetensors").unlink()
    torch.save({"x": _Evil()}, copy / "pytorch_model.bin")
    with pytest.raises(ModelLoadError, match="--bleurt-model"):
        BleurtScorer(str(copy), device="cpu")


@pytest.mark.parametrize("damage", ["no_config", "wrong_type", "missing_weight", "no_spm"])
def test_broken_checkpoints_give_one_line(tiny_bleurt, tmp_path, damage):
    copy = tmp_path / damage
    shutil.copytree(tiny_bleurt, copy)
    if damage == "no_config":
        (copy / "config.json").unlink()
    elif damage == "wrong_type":
        config = json.loads((copy / "config.json").read_text())
        (copy / "config.json").write_text(json.dumps({**config, "model_type": "bert"}))
    elif damage == "missing_weight":
        from safetensors.torch import save_file

        state = load_file(str(copy / "model.safetensors"))
        del state["classifier.weight"]
        save_file(state, str(copy / "model.safetensors"))
    else:
        (copy / "spm.model").unlink()
    with pytest.raises(ModelLoadError) as info:
        BleurtScorer(str(copy), device="cpu")
    assert str(copy) in str(info.value) and "\n" not in str(info.value)


def test_config_string(tiny_bleurt):
    config = BleurtScorer(tiny_bleurt, device="cpu").config
    assert tiny_bleurt in config and "max_length=512" in config and "torch=" in config


def test_batch_size_auto_halves_on_out_of_memory_and_scores_as_a_fixed_size(tiny_bleurt, monkeypatch):
    """A test-only memory cap: the model's forward pass raises torch's real ``OutOfMemoryError`` on a
    batch of more than 2 pairs."""
    import torch

    references, candidates = (list(side) for side in zip(*PAIRS, strict=True))
    fixed = BleurtScorer(tiny_bleurt, device="cpu", batch_size=1).score(references, candidates)
    scorer = BleurtScorer(tiny_bleurt, device="cpu")
    forward, sizes = scorer.model.forward, []

    def capped(input_ids, **kwargs):
        sizes.append(len(input_ids))
        if len(input_ids) > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (test cap)")
        return forward(input_ids=input_ids, **kwargs)

    monkeypatch.setattr(scorer.model, "forward", capped)
    assert scorer.score(references, candidates, "auto") == pytest.approx(fixed, abs=1e-5)
    assert sizes[0] == len(PAIRS) > 2 and scorer.batch.fitted == 2 and max(sizes[1:]) == 2
