"""Adding an entity type without forgetting the old ones, on CoNLL-2003 with MiniLM (issue 25).

    python benchmarks/add_types_conll.py --steps 400 --seed 42            # A, B, C; D with --reference
    python benchmarks/add_types_conll.py --only A                          # one arm at a time
    python benchmarks/add_types_conll.py --permuted /work/models/softmax-42   # before-training equality
    python benchmarks/add_types_conll.py --pass-time /work/models/softmax-42  # the pseudo-labelling pass

A: PER/LOC/ORG only (MISC turned into O), with the dev file of those types as its validation split (its
calibrator is fitted there), then `nerkit evaluate A dev-old-types --tune-thresholds`: per-type F1-max
thresholds stored in A, chosen on dev. B: continued from A on data where only MISC is annotated (every
other entity O), without rehearsal. C: as B with `data.rehearsal: pseudo-label` and its default
thresholds: A's tuned ones. D (--reference): a run on all four types with the same recipe, for MISC.
Every run uses recipes/conll03-minilm.yaml with the given steps and seed, no checkpoints, and is scored
on the CoNLL test file with the types it was trained on (A on the test file with MISC turned into O:
per-type scores of PER/LOC/ORG do not depend on MISC). Files and runs go to --out (default /tmp/nerkit-add-types), never the repository.

--permuted RUN writes a copy of RUN whose head rows and labels are in reversed order (as another tool
would order them), builds nerkit's model from it for the CoNLL labels, and compares its predictions on the
CoNLL test words with RUN's. --pass-time RUN times `data.rehearsal: pseudo-label` with RUN as the starting
model over the MISC-only train split (what it adds per type, and the seconds the pass takes).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "conll2003"
OLD = ("PER", "LOC", "ORG")


def keep_types(source: Path, target: Path, types: tuple[str, ...]) -> Path:
    """A copy of a CoNLL file where entities of other types are O."""
    lines = []
    for line in source.read_text(encoding="utf-8").splitlines():
        columns = line.split(" ")
        if len(columns) > 1 and columns[-1] != "O" and columns[-1][2:] not in types:
            columns[-1] = "O"
        lines.append(" ".join(columns))
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def train(out: Path, name: str, steps: int, seed: int, overrides: list[str]) -> Path:
    run_dir = out / f"{name}-seed{seed}"
    if (run_dir / "metrics.json").exists() and not (run_dir / "INCOMPLETE").exists():
        print(f"{run_dir} already trained; reused", flush=True)
        return run_dir
    command = [sys.executable, "-m", "nerkit.cli", "train", "--overwrite", str(ROOT / "recipes" / "conll03-minilm.yaml"),
               f"training.max_steps={steps}", f"training.seed={seed}", "data.validation=null", "eval.splits=[test]",
               "training.save_strategy=no", "training.eval_strategy=no", f"training.output_dir={run_dir}", *overrides]
    print("$", " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=ROOT)
    return run_dir


def tuned(run_dir: Path, dev: Path) -> Path:
    """Per-type F1-max thresholds of `run_dir` tuned on `dev` and stored in it (what C's rehearsal uses)."""
    from nerkit.metadata import RunMetadata

    if RunMetadata.from_file(run_dir / "nerkit.json").thresholds is None:
        command = [sys.executable, "-m", "nerkit.cli", "evaluate", str(run_dir), str(dev), "--tune-thresholds",
                   "--bootstrap", "0", "--output", str(run_dir / "dev-tuned.json")]
        print("$", " ".join(command), flush=True)
        subprocess.run(command, check=True, cwd=ROOT)
    return run_dir


def permuted_equality(run: str, out: Path) -> dict:
    """Predictions of nerkit's model built from a label-permuted copy of `run`, against `run`'s own."""
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from nerkit.config import DataConfig, ModelConfig
    from nerkit.data import load_corpus
    from nerkit.inference.engines import TorchEngine
    from nerkit.inference.tagger import Tagger
    from nerkit.label_mapping import plan_labels
    from nerkit.metrics import score
    from nerkit.modeling import build_model

    source = AutoModelForTokenClassification.from_pretrained(run)
    labels = [source.config.id2label[i] for i in range(source.config.num_labels)]
    order = list(reversed(range(len(labels))))
    with torch.no_grad():
        source.classifier.weight.copy_(source.classifier.weight[order])
        source.classifier.bias.copy_(source.classifier.bias[order])
    source.config.id2label = {i: labels[j] for i, j in enumerate(order)}
    source.config.label2id = {label: i for i, label in source.config.id2label.items()}
    copy = out / "permuted-copy"
    source.save_pretrained(copy)
    AutoTokenizer.from_pretrained(run).save_pretrained(copy)
    corpus = load_corpus(DataConfig(test=str(DATA / "test.txt")))
    words = [s["tokens"] for s in corpus.splits["test"]]
    cfg = ModelConfig(name_or_path=str(copy))
    plan = plan_labels(cfg, labels)
    original = Tagger.load(run, precision="fp32")
    rebuilt = Tagger(TorchEngine(build_model(cfg, plan.labels).eval(), "cpu", "fp32"), original.tokenizer,
                     {**original.metadata, "labels": plan.labels})
    ours = [[t for t, _ in s] for s in rebuilt.tag_words(words)]
    theirs = [[t for t, _ in s] for s in original.tag_words(words)]
    gold = [s["tags"] for s in corpus.splits["test"]]
    return {"copy labels": [source.config.id2label[i] for i in range(len(labels))], "nerkit labels": plan.labels,
            "words": sum(map(len, words)), "words with another label": sum(a != b for x, y in zip(ours, theirs)
                                                                            for a, b in zip(x, y)),
            "f1 rebuilt": score(gold, ours)["f1"], "f1 original": score(gold, theirs)["f1"]}


def pass_time(run: str, out: Path, limit: int | None = None) -> dict:
    """The pseudo-labelling pass of `data.rehearsal` with `run` over the MISC-only train split (its first
    `limit` sentences)."""
    from nerkit.config import DataConfig
    from nerkit.data import load_corpus
    from nerkit.rehearsal import rehearse

    new_train = keep_types(DATA / "train.txt", out / "train.misc-only.txt", ("MISC",))
    sentences = load_corpus(DataConfig(train=str(new_train))).splits["train"][:limit]
    return rehearse(run, sentences)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/nerkit-add-types"))
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--only", nargs="+", default=["A", "B", "C"], choices=["A", "B", "C", "D"])
    parser.add_argument("--reference", help="an existing D run (all four types, same recipe) instead of training one")
    parser.add_argument("--permuted", help="a run: before-training equality of a label-permuted copy of it")
    parser.add_argument("--pass-time", help="a run: time the pseudo-labelling pass with it over the MISC-only data")
    parser.add_argument("--sentences", type=int, help="--pass-time: only the first N train sentences")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.permuted or args.pass_time:
        result = permuted_equality(args.permuted, args.out) if args.permuted else \
            pass_time(args.pass_time, args.out, args.sentences)
        print(json.dumps(result, indent=2), flush=True)
        return
    old_train = keep_types(DATA / "train.txt", args.out / "train.old-types.txt", OLD)
    old_test = keep_types(DATA / "test.txt", args.out / "test.old-types.txt", OLD)
    old_valid = keep_types(DATA / "valid.txt", args.out / "valid.old-types.txt", OLD)
    new_train = keep_types(DATA / "train.txt", args.out / "train.misc-only.txt", ("MISC",))
    a = args.out / f"A-seed{args.seed}"
    arms = {
        "A": lambda: tuned(train(args.out, "A", args.steps, args.seed, [f"data.train={old_train}",
                                                                        f"data.validation={old_valid}",
                                                                        f"data.test={old_test}"]), old_valid),
        "B": lambda: train(args.out, "B", args.steps, args.seed, [f"model.name_or_path={a}", f"data.train={new_train}"]),
        "C": lambda: train(args.out, "C", args.steps, args.seed, [f"model.name_or_path={a}", f"data.train={new_train}",
                                                                 "data.rehearsal=pseudo-label"]),
        "D": lambda: Path(args.reference) if args.reference else train(args.out, "D", args.steps, args.seed, []),
    }
    rows = {}
    for name in args.only:
        run_dir = arms[name]()
        rows[name] = json.loads((run_dir / "metrics.json").read_text())["test"]
    print("\n| run | PER | LOC | ORG | MISC | overall |\n|---|---|---|---|---|---|")
    for name, test in rows.items():
        cells = [f"{test['per_type'][t]['f1']:.4f}" if t in test["per_type"] else "-" for t in (*OLD, "MISC")]
        print(f"| {name} | {' | '.join(cells)} | {test['f1']:.4f} |")


if __name__ == "__main__":
    main()
