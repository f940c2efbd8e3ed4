"""The weighted TRL trainers on a published version of the known drop: each example's loss is
scaled by weight / mean weight of its split, so a batch holding the whole split has the
weighted mean of the per-example losses as its loss (computed here by hand, from the models'
log-probabilities, and checked against TRL's own unweighted loss)."""

from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F
from trl import DPOTrainer, KTOTrainer

from feedback_platform.cli import main
from feedback_platform.train.trl_weighted import (
    LOSS_SCALE,
    TRAINING_RECORD,
    build_trainer,
    load_published,
)
from tests.train.conftest import char_tokenizer, tiny_llama

pytestmark = pytest.mark.train

BETA = 1.0  # larger than usual, so the examples' losses, and the weights' effect, differ clearly
# float32 on the CPU even where a GPU is, for comparisons to 1e-5; no checkpointing (tiny model).
TINY_RUN = {"use_cpu": True, "bf16": False, "gradient_checkpointing": False, "beta": BETA,
            "max_length": 96}  # fmt: skip


def completion_logps(model, input_ids, attention_mask, completion_mask) -> torch.Tensor:
    """Each row's log-probability of its completion tokens given what precedes them."""
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits[:, :-1]
    token_logps = logits.log_softmax(-1).gather(-1, input_ids[:, 1:, None]).squeeze(-1)
    return (token_logps * completion_mask[:, 1:]).sum(-1)


def weighted_mean(losses: torch.Tensor, weights: list[float]) -> torch.Tensor:
    weights = torch.tensor(weights)
    return (losses * weights).sum() / weights.sum()


def whole_split_batch(trainer) -> dict:
    """The trainer's collated batch of its whole train split, in the split's row order."""
    return trainer.data_collator(list(trainer.train_dataset))


def trainer_for(published_home, dataset, tmp_path):
    data = load_published(published_home / "datasets", dataset)
    tokenizer = char_tokenizer()
    # A reference unlike the policy: with equal models every log-ratio, so every loss, is alike.
    policy, reference = tiny_llama(tokenizer, seed=0), tiny_llama(tokenizer, seed=1)
    out = tmp_path / "out"
    trainer = build_trainer(
        data, policy, reference, tokenizer, out, per_device_train_batch_size=2, **TINY_RUN
    )
    return data, trainer


def test_dpo_loss_is_the_weighted_mean_of_the_pair_losses(published_home, tmp_path):
    data, trainer = trainer_for(published_home, "preference_pairs", tmp_path)
    weights = data.train["weight"]
    assert len(weights) == 2 and weights[0] != pytest.approx(weights[1], rel=0.1)
    batch = whole_split_batch(trainer)

    with torch.no_grad():
        logps = completion_logps(
            trainer.model, batch["input_ids"], batch["attention_mask"], batch["completion_mask"]
        )
        ref_logps = completion_logps(
            trainer.ref_model, batch["input_ids"], batch["attention_mask"], batch["completion_mask"]
        )
        chosen, rejected = (logps - ref_logps).chunk(2)
        pair_losses = -F.logsigmoid(BETA * (chosen - rejected))
        weighted = trainer.compute_loss(trainer.model, batch)
        unweighted = DPOTrainer._compute_loss(
            trainer, trainer.model, {k: v for k, v in batch.items() if k != LOSS_SCALE}, False
        )

    assert unweighted.item() == pytest.approx(pair_losses.mean().item(), rel=1e-5)
    assert weighted.item() == pytest.approx(weighted_mean(pair_losses, weights).item(), rel=1e-5)
    assert abs(weighted.item() - unweighted.item()) > 1e-4


def test_kto_loss_is_the_weighted_mean_of_the_example_losses(published_home, tmp_path):
    data, trainer = trainer_for(published_home, "kto_signals", tmp_path)
    weights, labels = data.train["weight"], data.train["label"]
    assert sorted(labels) == [False, True] and weights[0] != pytest.approx(weights[1], rel=0.1)
    batch = whole_split_batch(trainer)

    def log_ratios(prefix: str) -> torch.Tensor:
        rows = [batch[f"{prefix}{key}"] for key in ("input_ids", "attention_mask")]
        mask = batch[f"{prefix}completion_mask"]
        model_logps = completion_logps(trainer.model, *rows, mask)
        return model_logps - completion_logps(trainer.ref_model, *rows, mask)

    with torch.no_grad():
        # KTO's reference point: the KL estimate from mismatched prompt-completion pairs.
        kl = log_ratios("KL_").mean().clamp(min=0)
        ratios = log_ratios("")
        desirable = batch["label"].bool()
        example_losses = torch.where(
            desirable,
            1 - torch.sigmoid(BETA * (ratios - kl)),
            1 - torch.sigmoid(BETA * (kl - ratios)),
        )
        weighted = trainer.compute_loss(trainer.model, batch)
        unweighted = KTOTrainer._compute_loss(
            trainer, trainer.model, {k: v for k, v in batch.items() if k != LOSS_SCALE}, False
        )

    assert unweighted.item() == pytest.approx(example_losses.mean().item(), rel=1e-5)
    assert weighted.item() == pytest.approx(weighted_mean(example_losses, weights).item(), rel=1e-5)
    assert abs(weighted.item() - unweighted.item()) > 1e-4


@pytest.mark.parametrize("dataset", ["preference_pairs", "kto_signals"])
def test_two_weighted_steps_from_the_cli_record_the_version_trained_on(
    published_home, tmp_path, monkeypatch, dataset
):
    tokenizer = char_tokenizer()
    model_dir = tmp_path / "tiny-llama"
    tiny_llama(tokenizer, seed=0).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    monkeypatch.setenv("FEEDBACK_PLATFORM_HOME", str(published_home))
    out = tmp_path / "trained"

    code = main(["train", "--dataset", dataset, "--version", "latest", "--model",
                 str(model_dir), "--out", str(out), "--max-steps", "2",
                 "--batch-size", "2"])  # fmt: skip

    assert code == 0
    state = json.loads((out / "trainer_state.json").read_text())
    assert state["global_step"] == 2
    record = json.loads((out / TRAINING_RECORD).read_text())
    data = load_published(published_home / "datasets", dataset)
    assert record["version"] == data.version.version
    assert record["content_fingerprint"] == data.version.manifest["content_fingerprint"]
    assert (out / "model.safetensors").exists()
