"""Tiny local models for tests and the offline demo (malpyeong_eval/docs/scoring.md §6): no Hub needed.

They have the real architectures and file layouts (a BERT for BERTScore, a
checkpoint in the ``lucadiliello/BLEURT-20`` layout) with random weights and
tokenizers trained on the given texts, so every loading and scoring path runs for
real in seconds. Their scores mean nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

TINY_BLEURT_CONFIG: dict[str, Any] = {
    "model_type": "bleurt",
    "architectures": ["BleurtForSequenceClassification"],
    "hidden_size": 32,
    "embedding_size": 16,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "hidden_act": "gelu",
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "layer_norm_eps": 1e-12,
    "pad_token_id": 0,
    "max_seq_length": 512,
}


# Names the builders' shapes: the demo's model cache keeps one folder per version, so a change of
# shape (the policy's context grew to 4096 in version 2; its tokenizer's limit to the same in version 3;
# the demo's policy vocabulary, learned from the prompt too and up to ``vocab_size``, in version 4)
# builds afresh instead of reusing old models.
TINY_MODELS_VERSION = "v4"
TINY_QWEN2_CONTEXT = 4096  # a context long enough for the README's prompts with three retrieved passages


def build_tiny_bert(directory: str | Path, texts: Iterable[str], seed: int = 0) -> Path:
    """A 2-layer BERT with a WordPiece vocabulary trained on ``texts``, saved with safetensors."""
    import torch
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from transformers import BertConfig, BertModel, BertTokenizer

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    wordpiece = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    wordpiece.normalizer = normalizers.BertNormalizer(lowercase=False, strip_accents=False)
    wordpiece.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    wordpiece.train_from_iterator(list(texts), trainers.WordPieceTrainer(vocab_size=1000, special_tokens=specials, show_progress=False))
    vocab = sorted(wordpiece.get_vocab().items(), key=lambda pair: pair[1])
    (directory / "vocab.txt").write_text("".join(f"{token}\n" for token, _ in vocab), encoding="utf-8")
    tokenizer = BertTokenizer(vocab_file=str(directory / "vocab.txt"), do_lower_case=False, model_max_length=512)
    tokenizer.save_pretrained(directory)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=512,
    )
    BertModel(config).save_pretrained(directory)
    return directory


def build_tiny_bleurt(directory: str | Path, texts: Iterable[str], seed: int = 0) -> Path:
    """A 2-layer checkpoint in the BLEURT-20 layout: ``config.json`` (``model_type: bleurt``),
    ``model.safetensors`` with ``bleurt.*`` names and an embedding projection, ``spm.model``."""
    import sentencepiece
    import torch
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    texts = list(texts)
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(texts), model_prefix=str(directory / "spm"),
        vocab_size=len(set("".join(texts))) + 300,
        model_type="unigram", character_coverage=1.0, hard_vocab_limit=False,
        pad_id=0, pad_piece="[PAD]", unk_id=1, unk_piece="[UNK]", bos_id=-1, eos_id=-1,
        user_defined_symbols=["[CLS]", "[SEP]", "[MASK]"], minloglevel=2,
    )
    (directory / "spm.vocab").unlink(missing_ok=True)
    vocab_size = sentencepiece.SentencePieceProcessor(model_file=str(directory / "spm.model")).get_piece_size()
    config = {**TINY_BLEURT_CONFIG, "vocab_size": vocab_size}
    (directory / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    generator = torch.Generator().manual_seed(seed)
    hidden, embedding, inner = config["hidden_size"], config["embedding_size"], config["intermediate_size"]

    def weight(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator) * 0.2

    state = {
        "bleurt.embeddings.word_embeddings.weight": weight(vocab_size, embedding),
        "bleurt.embeddings.position_embeddings.weight": weight(config["max_position_embeddings"], embedding),
        "bleurt.embeddings.token_type_embeddings.weight": weight(config["type_vocab_size"], embedding),
        "bleurt.embeddings.LayerNorm.weight": 1 + weight(embedding),
        "bleurt.embeddings.LayerNorm.bias": weight(embedding),
        "bleurt.embeddings.position_ids": torch.arange(config["max_position_embeddings"]).unsqueeze(0),
        "bleurt.encoder.embedding_projection.weight": weight(hidden, embedding),
        "bleurt.encoder.embedding_projection.bias": weight(hidden),
        "bleurt.pooler.dense.weight": weight(hidden, hidden),
        "bleurt.pooler.dense.bias": weight(hidden),
        "classifier.weight": weight(1, hidden),
        "classifier.bias": weight(1),
    }
    for layer in range(config["num_hidden_layers"]):
        prefix = f"bleurt.encoder.layer.{layer}."
        shapes = {
            "attention.self.query": (hidden, hidden), "attention.self.key": (hidden, hidden),
            "attention.self.value": (hidden, hidden), "attention.output.dense": (hidden, hidden),
            "intermediate.dense": (inner, hidden), "output.dense": (hidden, inner),
        }
        for name, shape in shapes.items():
            state[f"{prefix}{name}.weight"] = weight(*shape)
            state[f"{prefix}{name}.bias"] = weight(shape[0])
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            state[f"{prefix}{norm}.weight"] = 1 + weight(hidden)
            state[f"{prefix}{norm}.bias"] = weight(hidden)
    save_file({key: value.contiguous() for key, value in state.items()}, str(directory / "model.safetensors"))
    return directory


CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tiny_qwen2(directory: str | Path, texts: Iterable[str], seed: int = 0, vocab_size: int = 800) -> Path:
    """A 2-layer Qwen2 chat model (hidden 64) with a byte-level BPE vocabulary of at most ``vocab_size``
    tokens trained on ``texts``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(
        list(texts),
        trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=specials, show_progress=False),  # only bytes seen: no control characters
    )
    tokenizer = PreTrainedTokenizerFast(  # its limit is the model's context: no length warning for prompts that fit
        tokenizer_object=bpe, model_max_length=TINY_QWEN2_CONTEXT, eos_token="<|im_end|>", pad_token="<|endoftext|>",
        bos_token=None, additional_special_tokens=["<|im_start|>"],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(directory)
    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        # rotary positions: a long context costs no weights
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=TINY_QWEN2_CONTEXT,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, bos_token_id=None,
        tie_word_embeddings=True,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.save_pretrained(directory)
    return directory


def warm_start_policy(directory: str | Path, pairs: Iterable[tuple[list[dict[str, str]], str]], steps: int = 150,
                      learning_rate: float = 3e-3, batch_size: int = 8, seed: int = 0) -> Path:
    """A short supervised pass of a policy on (conversation, answer) pairs, loss on the answers only.

    For the demo: a random policy never writes ``"…"가 옳다``, so GRPO would have nothing to
    sharpen; after this pass it answers in roughly the right shape and the curve can move.
    """
    import random

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    directory = Path(directory)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForCausalLM.from_pretrained(directory)
    examples = []
    for messages, answer in pairs:
        prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        answer_ids = tokenizer(answer + tokenizer.eos_token, add_special_tokens=False)["input_ids"]
        examples.append((prompt_ids + answer_ids, len(prompt_ids)))
    rng = random.Random(seed)
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    model.train()
    for _ in range(steps):
        batch = rng.sample(examples, min(batch_size, len(examples)))
        width = max(len(ids) for ids, _ in batch)
        input_ids = torch.full((len(batch), width), tokenizer.pad_token_id)
        labels = torch.full((len(batch), width), -100)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (ids, prompt_length) in enumerate(batch):
            input_ids[row, : len(ids)] = torch.tensor(ids)
            labels[row, prompt_length : len(ids)] = torch.tensor(ids[prompt_length:])
            mask[row, : len(ids)] = 1
        loss = model(input_ids=input_ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.eval()
    model.save_pretrained(directory)
    return directory
