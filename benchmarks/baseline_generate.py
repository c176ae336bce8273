"""The organizers' baseline inference loop: one item at a time through the chat template.

    python benchmarks/baseline_generate.py MODEL DATA OUTPUT [--max-new-tokens N] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from malpyeong_eval.data import load_items  # noqa: E402
from malpyeong_eval.prompts import clean_output, load_prompt  # noqa: E402


def generate_one_at_a_time(model, tokenizer, items, max_new_tokens: int, prompt=None) -> list[dict]:
    """The baseline's loop: each item alone through the chat template, greedy; official-format records."""
    prompt = prompt or load_prompt()
    results = []
    for item in items:
        ids = tokenizer.apply_chat_template(prompt.messages(item.question_type, item.question), add_generation_prompt=True,
                                            enable_thinking=False, return_tensors="pt", return_dict=True).to(model.device)
        with torch.inference_mode():
            output = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False,
                                    pad_token_id=tokenizer.pad_token_id)
        text = tokenizer.decode(output[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
        results.append({"id": item.id, "output": {"answer": clean_output(text)}})
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("data")
    parser.add_argument("output")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModelForCausalLM.from_pretrained(args.model).eval()
    results = generate_one_at_a_time(model, tokenizer, load_items(args.data)[: args.limit], args.max_new_tokens)
    Path(args.output).write_text(json.dumps(results, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
