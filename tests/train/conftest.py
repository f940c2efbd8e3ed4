"""A published version of the known drop, and a tiny causal LM with a tokenizer made offline."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
import torch
from tokenizers import Regex, Tokenizer, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from tests.assets.test_training import known_drop, run_pipeline
from tests.conftest import platform_home, write_jsonl

# A half-life of 14.4 minutes spreads the known drop's weights (its events span an hour), and
# 30 % of prompt buckets put one pair and one KTO row of the known drop in the holdout.
PUBLISHING = {"config": {"dbt_vars": {"half_life_days": 0.01, "holdout_percent": 30}}}


@pytest.fixture(scope="module")
def published_home(tmp_path_factory) -> Path:
    """A platform home whose datasets the known drop's pipeline run published (once per module)."""
    home = tmp_path_factory.mktemp("published") / "home"
    with platform_home(home) as settings:
        write_jsonl(settings.events_landing_dir / "day1.jsonl", known_drop())
        run_pipeline(settings, {"gated_models": PUBLISHING})
    return home


def char_tokenizer() -> PreTrainedTokenizerFast:
    """One token per printable ASCII character (anything else is unknown), built offline; a
    character-level tokenizer keeps a prompt's tokens a prefix of prompt + completion's."""
    specials = ["<pad>", "<eos>", "<unk>"]
    vocab = {token: i for i, token in enumerate(specials + list(string.printable))}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Split(Regex(r"[\s\S]"), behavior="isolated")
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token="<pad>", eos_token="<eos>", unk_token="<unk>"
    )


def tiny_llama(tokenizer: PreTrainedTokenizerFast, seed: int) -> LlamaForCausalLM:
    """A randomly initialised one-layer Llama of about 6,000 parameters."""
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
    )
    return LlamaForCausalLM(config)
