"""Train a NER model from a recipe: data -> features -> model -> Trainer -> metrics -> saved model.

    nerkit train recipes/quickstart.yaml
    accelerate launch -m nerkit.train recipes/conll03.yaml training.learning_rate=3e-5
    nerkit.train(nerkit.load_recipe("recipes/quickstart.yaml"))     # this module's train(), from Python

The output directory receives the best model (by dev F1) or LoRA adapter, its tokenizer, nerkit.json
(labels and encoding settings), recipe.yaml (the fully resolved recipe, secrets redacted), metrics.json,
train_results.json and README.md (the model card). What a run folder is (the completion marker, which
files are pushed) is nerkit/run.py's business.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from .config import Recipe, RecipeError
from .data import load_corpus, train_labels, warn_unseen_labels
from .features import Encoder, gather_word_scores
from .label_mapping import plan_labels
from .metrics import format_table, score
from .rehearsal import check as check_rehearsal, rehearse
from .modeling import build_model, check_model, load_tokenizer, parameter_counts, wrap_lora
from .aliases import hub_name, local_path
from .metadata import RunMetadata
from .run import abandon, begin, checkpoint_to_resume, finish
from .writing import write_json

logger = logging.getLogger("nerkit")

# nerkit's defaults for transformers.TrainingArguments; anything in the recipe's `training` wins.
TRAINING_DEFAULTS: dict[str, Any] = {
    "eval_strategy": "epoch",
    "save_strategy": "epoch",
    "load_best_model_at_end": True,
    "metric_for_best_model": "f1",
    "greater_is_better": True,
    "save_total_limit": 2,
    "logging_steps": 50,
    "report_to": "none",
    "ddp_find_unused_parameters": False,
    "train_sampling_strategy": "group_by_length",  # similar lengths per batch, batches shuffled: nerkit/trainer.py
}


def training_arguments(recipe: Recipe):
    from transformers import TrainingArguments

    kwargs = {**TRAINING_DEFAULTS, **recipe.training}
    kwargs.pop("resume_from_checkpoint", None)  # passed to Trainer.train instead
    kwargs.pop("overwrite_output_dir", None)  # nerkit's own: see nerkit/run.py begin()
    if not kwargs.get("output_dir"):
        raise RecipeError("no training.output_dir: set it (a recipe file names its run runs/<recipe name>)")
    if "validation" not in _splits_present(recipe) and kwargs["eval_strategy"] != "no":
        kwargs.update(eval_strategy="no", load_best_model_at_end=False)
        logger.warning("no validation split: evaluation during training and best-model selection are off")
    if kwargs["eval_strategy"] == "no":
        kwargs["load_best_model_at_end"] = False
    if kwargs.get("bf16") and not _has_cuda():
        kwargs.setdefault("use_cpu", True)  # transformers only takes bf16 on CPU when told it is on CPU
    if not _has_accelerator():
        kwargs.setdefault("dataloader_pin_memory", False)  # pinned memory is for copies to an accelerator
    try:
        args = TrainingArguments(**kwargs)
    except ValueError as err:  # TrainingArguments' own checks: unknown strategy names, incompatible options
        raise RecipeError(f"training: {' '.join(str(err).split())}") from None
    if recipe.eval.early_stopping_patience:  # EarlyStoppingCallback would assert this once the model is loaded
        needs = ("a validation split (data.validation)" if "validation" not in _splits_present(recipe) else
                 "evaluation during training (training.eval_strategy is no)" if args.eval_strategy == "no" else
                 "training.load_best_model_at_end: true" if not args.load_best_model_at_end else None)
        if needs:
            raise RecipeError(f"eval.early_stopping_patience needs {needs}")
    return args


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _has_accelerator() -> bool:
    import torch

    return torch.accelerator.is_available()


def _splits_present(recipe: Recipe) -> set[str]:
    data = recipe.data
    return {"train", "validation", "test"} if data.dataset else {s for s in ("train", "validation", "test") if getattr(data, s)}


def encode(datasets, encoder: Encoder, eval_encoder: Encoder):
    """Tokenize every split (datasets.map); evaluation splits are sorted by length to cut padding."""
    batch_size = None if encoder.context_size else 1000  # document context needs whole documents in a batch
    features = {}
    for split, ds in datasets.items():
        enc = encoder if split == "train" else eval_encoder
        mapped = ds.map(enc, batched=True, batch_size=batch_size, with_indices=True,
                        remove_columns=ds.column_names, desc=f"encoding {split}")
        features[split] = mapped if split == "train" else by_length(mapped)
    return features


def by_length(features):
    """Shortest first, ties in dataset order (what `Dataset.sort("length")` gives, without the FutureWarning
    its pyarrow call raises on every run)."""
    import numpy as np

    return features.select(np.argsort(np.asarray(features["length"]), kind="stable"))


class WordMetrics:
    """compute_metrics for Trainer: feature-level log-probabilities -> decoded tags per word -> seqeval.
    `crf` is read at each call, so every evaluation decodes with the scores the model has then."""

    def __init__(self, features, sentences, labels: list[str], mode: str = "default", decoding: str = "viterbi",
                 crf=None):
        self.examples, self.word_index = features["example"], features["word_index"]
        self.gold = sentences["tags"]
        self.labels, self.mode, self.decoding, self.crf = labels, mode, decoding, crf

    def decoded(self, log_probs) -> list[list[tuple[str, float]]]:
        """(label, probability) per word, decoded as the Tagger decodes (before any threshold)."""
        from .decoding import Decoder

        scores = gather_word_scores(log_probs, self.examples, self.word_index, [len(g) for g in self.gold])
        ids, probs = Decoder(self.labels, self.decoding, self.crf.scores() if self.crf is not None else None)(scores)
        return [[(self.labels[i], p) for i, p in zip(row_ids.tolist(), row_p.tolist())] for row_ids, row_p in zip(ids, probs)]

    def word_tags(self, log_probs) -> list[list[str]]:
        return [[tag for tag, _ in words] for words in self.decoded(log_probs)]

    def full(self, log_probs) -> dict[str, Any]:
        return score(self.gold, self.word_tags(log_probs), self.mode)

    def __call__(self, eval_prediction) -> dict[str, float]:
        metrics = self.full(eval_prediction.predictions)
        return {k: metrics[k] for k in ("precision", "recall", "f1", "accuracy")}


def log_probabilities(logits, labels):
    """What decoding needs between evaluation steps: each token's label log-probabilities (float32)."""
    return (logits[0] if isinstance(logits, tuple) else logits).float().log_softmax(-1)


def train(recipe: Recipe, overwrite: bool = False, callbacks: list | tuple = ()) -> dict[str, dict[str, Any]]:
    """Train, evaluate the configured splits, save; returns {split: metrics}. A non-empty output_dir is
    refused unless this run resumes it or `overwrite` (training.overwrite_output_dir) clears it. Everything
    that can be checked is checked before output_dir is touched; a run that fails before its first
    checkpoint removes what it wrote, so the same command starts again. `callbacks`: more TrainerCallbacks
    (nerkit tune's pruner)."""
    from transformers import set_seed

    args = training_arguments(recipe)
    check_rehearsal(recipe.data.rehearsal, recipe.data.rehearsal_threshold)
    overwrite = overwrite or recipe.training.get("overwrite_output_dir", False)
    corpus = load_corpus(recipe.data, recipe.text.newlines)
    if "train" not in corpus.splits:
        raise RecipeError("no training split: set data.train (or a data.dataset with a train split)")
    plan = plan_labels(recipe.model, corpus.labels)  # a checkpoint with a head: its labels mapped by name
    warn_unseen_labels(corpus.splits, plan.labels)
    tokenizer = load_tokenizer(local_path(recipe.model.name_or_path), recipe.model.revision)
    encoder = make_encoder(recipe, tokenizer, {label: i for i, label in enumerate(plan.labels)}, corpus)
    check_model(recipe.model, recipe.lora)
    if recipe.hub is not None and recipe.hub.push:
        from .hub import check_push

        check_push(recipe.hub.model_id)
    existed = Path(args.output_dir).exists()
    with args.main_process_first(desc="preparing output_dir"):
        if args.should_save:
            begin(args.output_dir, recipe.to_dict(), overwrite, recipe.training.get("resume_from_checkpoint"))
    try:
        set_seed(args.seed)
        return train_and_save(recipe, args, corpus, plan, encoder, callbacks)
    except BaseException:
        if args.should_save:
            abandon(args.output_dir, remove_folder=not existed)
        raise


def train_and_save(recipe: Recipe, args, corpus, plan, encoder: Encoder, callbacks=()) -> dict[str, dict[str, Any]]:
    from transformers import DataCollatorForTokenClassification, EarlyStoppingCallback

    from .heads import attach_crf, find_crf
    from .trainer import NerTrainer

    rehearsal = None
    if recipe.data.rehearsal != "none":  # the starting model's confident old-type entities become labels
        rehearsal = rehearse(recipe.model.name_or_path, corpus.splits["train"], recipe.data.rehearsal_threshold,
                             recipe.model.revision)
        corpus.labels = train_labels(corpus.splits)
        plan = plan_labels(recipe.model, corpus.labels)
        encoder = dataclasses.replace(encoder, label2id={label: i for i, label in enumerate(plan.labels)})
    datasets, labels, tokenizer = corpus.to_datasets(), plan.labels, encoder.tokenizer
    with args.main_process_first(desc="encoding"):
        features = encode(datasets, encoder, dataclasses.replace(encoder, label_all_tokens=False))

    model = build_model(recipe.model, labels)
    if recipe.model.head == "crf":
        attach_crf(model)
    if recipe.lora is not None:
        model = wrap_lora(model, recipe.lora)
        model.peft_config["default"].revision = recipe.model.revision  # adapter_config.json: base model revision
    trainable, total = parameter_counts(model)
    logger.info("parameters: %s trainable of %s (%.2f%%)", f"{trainable:,}", f"{total:,}", 100 * trainable / total)

    crf = find_crf(model)
    metrics_fn = WordMetrics(features["validation"], datasets["validation"], labels, recipe.eval.mode,
                             recipe.eval.decoding, crf) if "validation" in features else None
    callbacks = list(callbacks)
    if recipe.eval.early_stopping_patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=recipe.eval.early_stopping_patience))
    trainer = NerTrainer(
        model=model, args=args, train_dataset=features["train"],
        eval_dataset=features.get("validation") if args.eval_strategy != "no" else None,
        data_collator=DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=8 if args.device.type == "cuda" else None),
        processing_class=tokenizer, compute_metrics=metrics_fn,
        preprocess_logits_for_metrics=log_probabilities, callbacks=callbacks, crf=crf,
    )
    train_output = trainer.train(resume_from_checkpoint=checkpoint_to_resume(args.output_dir,
                                                                             recipe.training.get("resume_from_checkpoint")))

    decoded: dict[str, list] = {}
    results = evaluate_splits(trainer, recipe, features, datasets, labels, crf, decoded)
    calibrator = None
    if recipe.eval.calibrate and "validation" in features:  # the probability that an entity is exactly right
        from .calibration import fit_on

        if "validation" not in decoded:
            scorer = WordMetrics(features["validation"], datasets["validation"], labels, decoding=recipe.eval.decoding, crf=crf)
            decoded["validation"] = scorer.decoded(trainer.predict(features["validation"]).predictions)
        calibrator = fit_on(datasets["validation"]["tags"], decoded["validation"], "validation split",
                            recipe.eval.calibration)
    save_run(trainer, recipe, corpus, encoder, results, train_output.metrics, plan, rehearsal, calibrator)
    if trainer.is_world_process_zero():
        print(format_table(results), flush=True)
    return results


def make_encoder(recipe: Recipe, tokenizer, label2id: dict[str, int], corpus) -> Encoder:
    data = recipe.data
    if data.max_length > tokenizer.model_max_length:
        raise RecipeError(f"data.max_length={data.max_length} exceeds the model's maximum {tokenizer.model_max_length}")
    if data.context not in ("sentence", "document"):
        raise RecipeError(f"unknown data.context {data.context!r}; expected sentence or document")
    context_size = 0
    if data.context == "document":
        if all(s["document"] < 0 for sents in corpus.splits.values() for s in sents):
            logger.warning("data.context=document but the data has no document boundaries (no -DOCSTART- lines "
                           "or data.document_field): falling back to sentence context")
        else:
            context_size = data.context_size
    try:
        return Encoder(tokenizer, label2id, data.max_length, data.stride, data.label_all_tokens, context_size)
    except ValueError as err:  # the window does not fit: named by its recipe keys
        raise RecipeError(f"data.{err}") from None


def evaluate_splits(trainer, recipe: Recipe, features, datasets, labels, crf=None,
                    decoded: dict[str, list] | None = None) -> dict[str, dict[str, Any]]:
    """Score each of eval.splits; each split's decoded words go into `decoded` when it is given."""
    trainer.compute_metrics = None  # it scores the validation split; each split gets its own scorer below
    results = {}
    for split in recipe.eval.splits:
        if split not in features:
            logger.warning("eval.splits names %r but the data has no such split; skipped", split)
            continue
        output = trainer.predict(features[split], metric_key_prefix=split)
        scorer = WordMetrics(features[split], datasets[split], labels, recipe.eval.mode, recipe.eval.decoding, crf)
        words = scorer.decoded(output.predictions)
        results[split] = score(scorer.gold, [[tag for tag, _ in w] for w in words], recipe.eval.mode)
        if decoded is not None:
            decoded[split] = words
    return results


def raw_text_agreement(corpus, splits: list[str]) -> dict[str, dict]:
    """How many gold words of each evaluated split the raw-text splitter reproduces (nerkit/agreement.py)."""
    from .agreement import check

    return check({s: [x["tokens"] for x in corpus.splits[s]] for s in splits if s in corpus.splits})


def save_run(trainer, recipe: Recipe, corpus, encoder: Encoder, results, train_metrics: dict[str, Any], plan,
             rehearsal: dict[str, Any] | None = None, calibrator=None) -> None:
    """Best model (or adapter), tokenizer, metrics, model card, then nerkit.json and the completion mark.

    Every process calls this: under FSDP or DeepSpeed ZeRO-3 the sharded weights are gathered by all
    processes together inside `save_model`, and only the main one writes."""
    out = Path(trainer.args.output_dir)
    if getattr(trainer, "is_fsdp_enabled", False):  # a loadable model, not one shard per process
        trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    trainer.save_model(str(out))
    if not trainer.is_world_process_zero():
        return
    (out / "training_args.bin").unlink(missing_ok=True)  # a pickle of the arguments: nobody needs it to use the model
    metadata = RunMetadata(
        labels=plan.labels, kind="adapter" if recipe.lora is not None else "full",
        base_model=hub_name(recipe.model.name_or_path), base_revision=recipe.model.revision or None,
        source_scheme=corpus.scheme, max_length=encoder.max_length, stride=encoder.stride,
        context="document" if encoder.context_size else "sentence", context_size=encoder.context_size,
        newlines=recipe.text.newlines, head=recipe.model.head, decoding=recipe.eval.decoding,  # how raw text's single newlines split sentences (nerkit/lines.py)
        raw_text_agreement=raw_text_agreement(corpus, recipe.eval.splits),  # share of gold words reproduced
        repaired_tags=corpus.repaired_tags,  # split -> broken continuations read as conlleval does
        continued_from=plan.record() or None,  # labels kept / added / dropped / re-initialised
        rehearsal=rehearsal or None,  # old-type entities added per type, threshold, time taken
        calibrator=calibrator,  # entity score -> probability it is right, fitted on validation (calibration.py)
    )
    write_json(out / "metrics.json", results)
    write_json(out / "train_results.json", train_metrics)  # runtime, samples/s, loss
    from .hub import merged_folder, write_model_card

    write_model_card(out, recipe, results, metadata)
    if recipe.lora is not None and recipe.lora.merge:
        merged_folder(out, metadata)
    finish(out, metadata)
    logger.info("saved to %s", out)
    if recipe.hub is not None and recipe.hub.push:
        from .hub import push

        push(out, recipe.hub.model_id, private=recipe.hub.private, revision=recipe.hub.revision)

