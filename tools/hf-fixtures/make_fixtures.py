"""Builds tiny random HF-format models with the reference `transformers` implementation and records
their logits for fixed inputs, so that Rollout's C# forward can be checked against HF itself.

Run on a machine with torch, transformers and safetensors (the device machine):
    python3 tools/hf-fixtures/make_fixtures.py OUT_DIR
Each model lands in OUT_DIR/<name>/ with config.json (the legacy hub format, as users' checkpoints
have it), config.transformers.json (what this transformers version writes), model.safetensors and
expected.safetensors (input_ids [T] int64 and logits [T, vocab] fp32, or score [num_labels]).
"""
import json
import os
import shutil
import sys

import torch
import transformers
from safetensors.torch import save_file

VOCAB = 256
INPUT_IDS = [(i * 37 + 11) % VOCAB for i in range(40)]

BASE = {
    "vocab_size": VOCAB,
    "hidden_size": 64,
    "intermediate_size": 96,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 128,
    "rms_norm_eps": 1e-6,
    "hidden_act": "silu",
    "bos_token_id": 1,
    "eos_token_id": 2,
    "torch_dtype": "float32",
}

MODELS = {
    "llama-llama3-rope": ("LlamaForCausalLM", {
        "model_type": "llama", "rope_theta": 500000.0, "tie_word_embeddings": False,
        "attention_bias": False, "mlp_bias": False,
        "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                         "high_freq_factor": 4.0, "original_max_position_embeddings": 64},
    }),
    "llama-linear-rope-tied": ("LlamaForCausalLM", {
        "model_type": "llama", "rope_theta": 10000.0, "tie_word_embeddings": True,
        "attention_bias": False, "mlp_bias": False,
        "rope_scaling": {"type": "linear", "factor": 2.0},
    }),
    "qwen2": ("Qwen2ForCausalLM", {
        "model_type": "qwen2", "rope_theta": 1000000.0, "tie_word_embeddings": True,
        "use_sliding_window": False, "sliding_window": None, "max_window_layers": 2,
    }),
    "qwen3": ("Qwen3ForCausalLM", {
        "model_type": "qwen3", "rope_theta": 1000000.0, "tie_word_embeddings": False,
        "head_dim": 32, "attention_bias": False,
        "use_sliding_window": False, "sliding_window": None, "max_window_layers": 2,
    }),
    "mistral": ("MistralForCausalLM", {
        "model_type": "mistral", "rope_theta": 10000.0, "tie_word_embeddings": False,
        "sliding_window": 8, "head_dim": 16,
    }),
    "llama-reward": ("LlamaForSequenceClassification", {
        "model_type": "llama", "rope_theta": 10000.0, "tie_word_embeddings": False,
        "attention_bias": False, "mlp_bias": False, "num_labels": 1, "pad_token_id": 0,
    }),
}


def randomize(model, seed):
    """HF's default init (std 0.02, norms at 1) gives near-uniform logits that hide mistakes; draw
    every parameter, norm weights and biases included, at a scale where each one matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=g))
            elif p.dim() == 1:
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / (p.shape[-1] ** 0.5))


def build(out_dir, name, arch, extra, seed):
    cfg = dict(BASE)
    cfg.update(extra)
    cfg["architectures"] = [arch]
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    config = transformers.AutoConfig.from_pretrained(d)
    config._attn_implementation = "eager"
    model = getattr(transformers, arch)(config).float().eval()
    randomize(model, seed)
    if config.tie_word_embeddings and hasattr(model, "lm_head"):
        model.tie_weights()
    tmp = os.path.join(d, "saved")
    model.save_pretrained(tmp, safe_serialization=True)
    shutil.move(os.path.join(tmp, "model.safetensors"), os.path.join(d, "model.safetensors"))
    shutil.move(os.path.join(tmp, "config.json"), os.path.join(d, "config.transformers.json"))
    shutil.rmtree(tmp)
    ids = torch.tensor([INPUT_IDS], dtype=torch.long)
    with torch.no_grad():
        out = model(input_ids=ids)
    tensors = {"input_ids": ids[0].contiguous()}
    if arch.endswith("ForSequenceClassification"):
        tensors["score"] = out.logits[0].float().contiguous()
    else:
        tensors["logits"] = out.logits[0].float().contiguous()
    save_file(tensors, os.path.join(d, "expected.safetensors"))
    print(name, arch, {k: tuple(v.shape) for k, v in tensors.items()},
          "params", sum(p.numel() for p in model.parameters()))


def main():
    out_dir = sys.argv[1]
    torch.manual_seed(0)
    print("torch", torch.__version__, "transformers", transformers.__version__)
    for seed, (name, (arch, extra)) in enumerate(MODELS.items()):
        build(out_dir, name, arch, extra, 1000 + seed)


if __name__ == "__main__":
    main()
