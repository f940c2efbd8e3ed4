"""Train with TRL's DPOTrainer or KTOTrainer on a published dataset version, with its recency
``weight`` column in effect.

TRL (1.16) ignores a ``weight`` column: both trainers take the plain mean of a batch's
per-example losses (DPO's ``use_weighting`` is WPO, a different scheme computed from the
model's own probabilities). The trainers here scale each example's loss by its ``loss_scale``,
``weight / w̄``, before that mean, where ``w̄`` is the mean weight of the example's split (train
or holdout). A batch of ``B`` examples therefore has the loss

    sum(loss_scale_i * L_i) / B  =  sum(w_i * L_i) / (B * w̄)

and over an epoch, or in expectation over randomly drawn batches, that is the split's weighted
mean ``sum(w_i * L_i) / sum(w_i)``; when the batch is the whole split it is that mean exactly
(the holdout evaluation reports it). Dividing by the split's mean weight rather than each
batch's sum keeps the weights global: a batch of old examples moves the model less than a
batch of new ones (a per-batch normalisation would give every batch, and at batch size 1
every example, the same total weight). With every weight equal the loss is TRL's own.

* DPO: TRL computes the per-pair losses inside one function and averages them at once, so
  ``WeightedDPOTrainer`` runs TRL's own loss on one pair at a time (each pair's loss depends on
  that pair only, for every loss type but ``sft`` and ``aot*``, which it refuses) and combines
  them with the scales. The price is one forward pass per pair instead of one per batch.
* KTO: the loss couples a batch through its KL estimate, so it cannot be split; TRL multiplies
  the desirable and undesirable losses by ``desirable_weight`` / ``undesirable_weight`` before
  the mean, and ``WeightedKTOTrainer`` gives those factors one value per example for the
  duration of the batch.

``train`` is the whole run (``feedback-platform train``): it reads a version's Parquet files
(checking their sha256 against the manifest), trains on ``train.parquet``, evaluates on
``holdout.parquet``, and writes ``training_data.json`` beside the model: the dataset, version
and manifest fingerprint it was trained on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch
from datasets import Dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel
from trl import DPOConfig, DPOTrainer, KTOConfig, KTOTrainer

from feedback_platform.datasets.versions import (
    MANIFEST,
    PublishedVersion,
    latest_version,
    published_version,
)
from feedback_platform.ingest.load import file_sha256

WEIGHT = "weight"
LOSS_SCALE = "loss_scale"
TRAINING_RECORD = "training_data.json"
# The columns each dataset's trainer reads; provenance columns stay out of the trainer.
TRAINER_COLUMNS = {
    "preference_pairs": ("prompt", "chosen", "rejected", WEIGHT),
    "kto_signals": ("prompt", "completion", "label", WEIGHT),
}
# DPO loss types that are not a mean of per-pair terms: `sft` averages tokens over the batch,
# `aot` sorts the batch's log-ratios. Splitting a batch into pairs would change them.
BATCH_COUPLED_DPO_LOSSES = {"sft", "aot", "aot_unpaired"}


@dataclass(frozen=True)
class TrainingData:
    """A published version's splits as Hugging Face datasets (``holdout`` is None when empty)."""

    dataset: str
    version: PublishedVersion
    train: Dataset
    holdout: Dataset | None


def load_published(datasets_dir: Path, dataset: str, version: str = "latest") -> TrainingData:
    """The ``train`` and ``holdout`` splits of ``datasets_dir/dataset/version`` (``latest``:
    the one ``LATEST`` names), with the columns its trainer reads."""
    if dataset not in TRAINER_COLUMNS:
        raise ValueError(f"no trainer for dataset {dataset!r}: one of {sorted(TRAINER_COLUMNS)}")
    root = datasets_dir / dataset
    published = latest_version(root) if version == "latest" else published_version(root, version)
    if published is None:
        raise FileNotFoundError(f"{root} has no published version (no {root / 'LATEST'})")
    train = _read_split(published, "train", TRAINER_COLUMNS[dataset])
    if train is None:
        raise ValueError(f"{published.path} has no training rows")
    holdout = _read_split(published, "holdout", TRAINER_COLUMNS[dataset])
    return TrainingData(dataset=dataset, version=published, train=train, holdout=holdout)


def _read_split(published: PublishedVersion, split: str, columns: tuple[str, ...]):
    """The split's rows, after checking the file is the one the manifest describes."""
    name = f"{split}.parquet"
    described = published.manifest["files"].get(name)
    if described is None or not described["rows"]:
        return None
    path = published.path / name
    if file_sha256(path) != described["sha256"]:
        raise ValueError(f"{path} does not match its manifest's sha256: the version was altered")
    frame = pd.read_parquet(path, columns=list(columns))
    return Dataset.from_pandas(frame, preserve_index=False)


def training_record(data: TrainingData) -> dict:
    """What a model was trained on, for ``training_data.json`` in its output folder."""
    manifest_path = data.version.path / MANIFEST
    return {
        "dataset": data.dataset,
        "version": data.version.version,
        "path": str(data.version.path),
        "content_fingerprint": data.version.manifest["content_fingerprint"],
        "manifest_sha256": hashlib.sha256(manifest_path.read_bytes()).hexdigest(),
        "files": data.version.manifest["files"],
        "parameters": data.version.manifest.get("parameters", {}),
        "loss_weighting": f"per-example loss scaled by {WEIGHT} / mean {WEIGHT} of its split",
    }


class _LossScaleColumn:
    """What both weighted trainers share: the ``loss_scale`` column and its way to the batch."""

    def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
        dataset = super()._prepare_dataset(dataset, processing_class, args, dataset_name)
        if LOSS_SCALE in dataset.column_names:  # already prepared (TRL prepares again in evaluate)
            return dataset
        if WEIGHT not in dataset.column_names:
            raise ValueError(f"the {dataset_name} dataset has no {WEIGHT!r} column")
        weights = torch.tensor(dataset[WEIGHT], dtype=torch.float64)
        if not bool((weights > 0).all()):
            raise ValueError(f"the {dataset_name} dataset has weights that are not positive")
        scales = (weights / weights.mean()).tolist()
        return dataset.add_column(LOSS_SCALE, scales)

    def _set_signature_columns_if_needed(self):
        super()._set_signature_columns_if_needed()
        if LOSS_SCALE not in self._signature_columns:
            self._signature_columns = [*self._signature_columns, LOSS_SCALE]

    def _carry_loss_scale(self) -> None:
        """TRL's collators keep only the columns they know: add the scales to each batch."""
        collate = self.data_collator

        def collate_with_scales(examples):
            batch = collate(examples)
            batch[LOSS_SCALE] = torch.tensor([example[LOSS_SCALE] for example in examples])
            return batch

        self.data_collator = collate_with_scales

    @staticmethod
    def _refuse_outputs(return_outputs: bool) -> None:
        # Model outputs only serve `compute_metrics`, which would see one pair's logits for DPO.
        if return_outputs:
            raise ValueError(
                "the weighted trainers return no model outputs: leave compute_metrics unset"
            )


class WeightedDPOTrainer(_LossScaleColumn, DPOTrainer):
    """TRL's DPOTrainer with each pair's loss scaled by ``weight / w̄`` (module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        coupled = BATCH_COUPLED_DPO_LOSSES.intersection(self.loss_types)
        if coupled:
            raise ValueError(f"loss types {sorted(coupled)} couple a batch's pairs: not weighted")
        if self._is_vision_dataset:
            raise ValueError("weighted DPO handles text pairs only")
        self._carry_loss_scale()

    def _compute_loss(self, model, inputs, return_outputs):
        self._refuse_outputs(return_outputs)
        inputs = dict(inputs)
        scales = inputs.pop(LOSS_SCALE)
        pair_losses = torch.stack(
            [
                super(WeightedDPOTrainer, self)._compute_loss(model, one_pair(inputs, i), False)
                for i in range(len(scales))
            ]
        )
        return (pair_losses * scales.to(pair_losses)).mean()


def one_pair(batch: dict, index: int) -> dict:
    """Pair ``index`` of a batch TRL's ``DataCollatorForPreference`` made, as that collator
    makes a batch of one: its rows are ``[chosen_0..chosen_B-1, rejected_0..rejected_B-1]``
    (reference log-probs one per pair), right-padded; the pair's padding beyond its longer
    sequence is cut."""
    pairs = batch["input_ids"].size(0) // 2
    rows = torch.tensor([index, pairs + index], device=batch["input_ids"].device)
    width = int(batch["attention_mask"][rows].sum(dim=1).max())
    pair = {}
    for key, value in batch.items():
        if value.size(0) == 2 * pairs:
            pair[key] = value[rows][:, :width]
        else:  # one value per pair: the reference log-probs
            pair[key] = value[index : index + 1]
    return pair


class WeightedKTOTrainer(_LossScaleColumn, KTOTrainer):
    """TRL's KTOTrainer with each example's loss scaled by ``weight / w̄`` (module docstring)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._carry_loss_scale()

    def _compute_loss(self, model, inputs, return_outputs):
        self._refuse_outputs(return_outputs)
        inputs = dict(inputs)
        scales = inputs.pop(LOSS_SCALE)
        desirable = inputs["label"].bool().to(scales.device)
        # TRL orders the batch's losses desirable first, each group in batch order, and scales
        # the groups by these two factors: one factor per example turns them into loss_scale.
        configured = self.desirable_weight, self.undesirable_weight
        self.desirable_weight = configured[0] * scales[desirable]
        self.undesirable_weight = configured[1] * scales[~desirable]
        try:
            return super()._compute_loss(model, inputs, return_outputs)
        finally:
            self.desirable_weight, self.undesirable_weight = configured


TRAINERS = {
    "preference_pairs": (WeightedDPOTrainer, DPOConfig),
    "kto_signals": (WeightedKTOTrainer, KTOConfig),
}


def build_trainer(
    data: TrainingData,
    model: PreTrainedModel,
    ref_model: PreTrainedModel,
    tokenizer,
    out_dir: Path,
    **config,
):
    """The weighted trainer for ``data``'s dataset: train split to train on, holdout to
    evaluate after each epoch; ``config`` overrides the TRL config's fields."""
    trainer_class, config_class = TRAINERS[data.dataset]
    defaults = {
        "output_dir": str(out_dir),
        "report_to": "none",
        "save_strategy": "no",
        "eval_strategy": "epoch" if data.holdout is not None else "no",
        # TRL's default, bf16, is refused where no GPU supports it (on the CPU): float32 there.
        "bf16": torch.cuda.is_available() and torch.cuda.is_bf16_supported(),
    }
    return trainer_class(
        model=model,
        ref_model=ref_model,
        args=config_class(**{**defaults, **config}),
        train_dataset=data.train,
        eval_dataset=data.holdout,
        processing_class=tokenizer,
    )


def write_training_record(data: TrainingData, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / TRAINING_RECORD
    path.write_text(json.dumps(training_record(data), indent=2) + "\n", encoding="utf-8")
    return path


def train(data: TrainingData, model_path: str, out_dir: Path, **config) -> dict[str, float]:
    """Train the causal LM at ``model_path`` (a local folder) on ``data``, its initial state as
    the reference model, and save the model, tokenizer and ``training_data.json`` in
    ``out_dir``. Returns the holdout's metrics (empty without a holdout)."""
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(model_path)
    ref_model = AutoModelForCausalLM.from_pretrained(model_path)
    trainer = build_trainer(data, model, ref_model, tokenizer, out_dir, **config)
    write_training_record(data, out_dir)
    trainer.train()
    trainer.save_model(str(out_dir))
    trainer.save_state()
    tokenizer.save_pretrained(str(out_dir))
    return trainer.evaluate() if data.holdout is not None else {}
