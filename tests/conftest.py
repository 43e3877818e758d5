"""Shared fixtures: a tiny random BERT with a locally written WordPiece vocabulary (never a download),
and the paths of the project's sample data and of the real CoNLL-2003 files in ../shared."""

from __future__ import annotations

import hashlib
import os
import random
import string
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "recipes" / "sample"
SHARED = ROOT.parent / "shared" / "data"
CONLL = SHARED / "conll2003"
CONLL_IOB1 = SHARED / "conll2003-iob1"

WORDS = ["the", "The", "in", "on", "of", "and", "said", "visited", "Paris", "Berlin", "Tokyo", "Anna", "John",
         "Smith", "Corp", "Acme", "team", "prize", "Monday", "."]


def tiny_vocab() -> dict[str, int]:
    """Whole words for a few common words, single characters (and ## continuations) for everything else,
    so most words split into several sub-tokens."""
    chars = string.ascii_letters + string.digits + string.punctuation + "äöüéàç’“”"
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS + list(chars) + ["##" + c for c in chars]
    return {token: i for i, token in enumerate(dict.fromkeys(tokens))}


def make_tiny_model(directory: Path, seed: int = 0) -> Path:
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    torch.manual_seed(seed)
    tokenizer = BertTokenizer(vocab=tiny_vocab(), do_lower_case=False, model_max_length=512)
    config = BertConfig(vocab_size=len(tokenizer.get_vocab()), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=512)
    BertModel(config, add_pooling_layer=False).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> str:
    return str(make_tiny_model(tmp_path_factory.mktemp("tiny-bert")))


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def quick_recipe(model: str, output_dir: Path, **data) -> dict:
    """A recipe dict that trains the tiny model on the sample data in seconds."""
    return {
        "model": {"name_or_path": model},
        "data": {"train": str(SAMPLE / "train.conll"), "validation": str(SAMPLE / "validation.conll"),
                 "test": str(SAMPLE / "test.conll"), "max_length": 64, **data},
        "training": {"output_dir": str(output_dir), "num_train_epochs": 2, "learning_rate": 5e-3,
                     "per_device_train_batch_size": 32, "per_device_eval_batch_size": 64, "seed": 7,
                     "logging_steps": 5, "use_cpu": True, "dataloader_pin_memory": False},
    }


@pytest.fixture(scope="session")
def trained_run(tiny_model, tmp_path_factory) -> Path:
    """One full fine-tuning run of the tiny model, shared by the predict / evaluate / hub tests."""
    from nerkit.config import recipe_from_dict
    from nerkit.training import train as run

    out = tmp_path_factory.mktemp("run")
    run(recipe_from_dict(quick_recipe(tiny_model, out)))
    return out


def train_seeded(tiny_model: str, parent: Path, seeds: list[int]) -> Path:
    """A `nerkit train --seeds` parent folder of 3-step runs of the tiny model."""
    from nerkit.config import recipe_from_dict
    from nerkit.seeds import train_seeds

    recipe = quick_recipe(tiny_model, parent)
    recipe["training"].update(max_steps=3, num_train_epochs=1)
    train_seeds(recipe_from_dict(recipe), seeds)
    return parent


def publish(cache: Path, repo_id: str, files: dict[str, bytes], revision: str = "main") -> Path:
    """Files as a Hub cache snapshot: what `hf download` leaves behind."""
    commit = hashlib.sha1(f"{repo_id}@{revision}".encode()).hexdigest()
    repo = cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    for name, data in files.items():
        (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
        (snapshot / name).write_bytes(data)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / revision).write_text(commit)
    return snapshot


@pytest.fixture(scope="session")
def hub_home(trained_run, tmp_path_factory) -> Path:
    """An HF_HOME whose Hub cache holds the trained run as `me/ner` (its pushed files), for processes that
    load by Hub id offline: set HF_HOME to it and HF_HUB_OFFLINE=1 before they start."""
    from nerkit.run import files_to_push

    home = tmp_path_factory.mktemp("hf-home")
    publish(home / "hub", "me/ner", {name: (trained_run / name).read_bytes() for name in files_to_push(trained_run)})
    return home


@pytest.fixture(scope="session")
def short_texts() -> list[str]:
    """300 short texts in the tiny model's words: some of two sentences, some empty, one with an accent."""
    rng = random.Random(0)
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 25))) for _ in range(296)]
    return texts + ["", "Anna Smith visited Paris. John left Tokyo on Monday.", "Zoë Müller visited Berlin.", "   "]


def needs_conll(path: Path = CONLL):
    return pytest.mark.skipif(not path.is_dir(), reason=f"CoNLL-2003 not found at {path} (../shared/data)")


def free_port() -> int:
    """A TCP port nothing listens on now, for `accelerate launch --main_process_port` (a fixed port fails
    when two suites run at once on one machine)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def launch(tiny_model, out, processes, *extra):
    """`accelerate launch --cpu --num_processes N -m nerkit.train` on the sample data, as a user runs it."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [sys.executable, "-m", "accelerate.commands.launch", "--cpu", "--num_processes", str(processes),
               "--main_process_port", str(free_port()), "-m", "nerkit.train",
               str(ROOT / "recipes" / "quickstart.yaml"), f"model.name_or_path={tiny_model}",
               f"training.output_dir={out}", "training.num_train_epochs=2", "training.learning_rate=5e-3", "training.per_device_train_batch_size=32",
               "data.max_length=64", f"data.train={SAMPLE / 'train.conll'}",
               f"data.validation={SAMPLE / 'validation.conll'}", f"data.test={SAMPLE / 'test.conll'}", *extra]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=ROOT)
