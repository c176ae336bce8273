"""GRPO training with the contest rewards (GRPOTrainer, LoRA, vLLM, accelerate)."""
