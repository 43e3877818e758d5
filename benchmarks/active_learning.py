"""Simulated active learning on CoNLL-2003 with MiniLM: does `nerkit select` beat random picks?

    flock is taken per round inside (the machine-wide training lock), so run it plainly, in the background:
    nohup python benchmarks/active_learning.py --work /work/models/labelling/al --seeds 42 > al.log 2>&1 &
    python benchmarks/active_learning.py --work /work/models/labelling/al --report docs/active_learning.png

The pool is the training set with its labels hidden. A seed draws 200 random sentences and trains on
them (round 0, shared by every arm); each arm then runs rounds of +200 sentences: `entropy` and `mnlp`
rank the rest of the pool with the previous round's model (nerkit/informativeness.py, the ranking
`nerkit select` uses, over the gold words so that a picked sentence is exactly a labelled one), `random`
draws them. Every round retrains MiniLM from scratch with recipes/conll03-minilm.yaml for the same
number of optimizer steps (--steps, batch 32) and scores the test set (Viterbi, nerkit's scorer).
Results go to WORK/results.jsonl one line per round (a rerun skips rounds already there).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import random
import shutil
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LOCK = "/work/models/train.lock"
FULL_DATA_F1 = 0.8449  # /work/models/softmax-42: the same recipe on all 14,041 sentences, one epoch, test, Viterbi
ARMS = ("entropy", "mnlp", "random")


@contextlib.contextmanager
def training_lock(path: str = LOCK):
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # what `flock /work/models/train.lock` takes
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_conll(sentences, path: Path) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for sentence in sentences:
            out.writelines(f"{token} {tag}\n" for token, tag in zip(sentence["tokens"], sentence["tags"]))
            out.write("\n")


def train_round(pool, labelled: list[int], folder: Path, steps: int, seed: int, overrides=()) -> dict:
    from nerkit.config import load_recipe
    from nerkit.training import train

    folder.mkdir(parents=True, exist_ok=True)
    write_conll([pool[i] for i in labelled], folder / "train.conll")
    shared = ROOT.parent / "shared" / "data" / "conll2003"
    recipe = load_recipe(ROOT / "recipes" / "conll03-minilm.yaml", [
        f"data.train={folder / 'train.conll'}", "data.validation=null", f"data.test={shared / 'test.txt'}",
        "eval.splits=[test]", f"training.output_dir={folder / 'model'}", f"training.max_steps={steps}",
        "training.save_strategy=no", f"training.seed={seed}", "training.logging_steps=50", *overrides])
    started = time.perf_counter()
    results = train(recipe, overwrite=True)
    return {"test_f1": results["test"]["f1"], "train_s": time.perf_counter() - started}


def rank_pool(pool, labelled: set[int], model: Path, strategy: str, budget: int) -> tuple[list[int], float]:
    from nerkit.inference.tagger import Tagger
    from nerkit.informativeness import TopK, informativeness

    started = time.perf_counter()
    tagger = Tagger.load(str(model))
    rest = [i for i in range(len(pool)) if i not in labelled]
    scores = tagger.word_scores([pool[i]["tokens"] for i in rest])
    ids, _ = tagger.decoder(scores)
    best = TopK(budget)
    for i, s, c in zip(rest, scores, ids):
        value = informativeness(strategy, [s], [c])
        if value is not None:
            best.offer(value, i)
    return [i for _, i in best.ranked()], time.perf_counter() - started


def run(args) -> None:
    from nerkit.formats.conll import read_conll

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    results_file = work / "results.jsonl"
    done = {(r["seed"], r["arm"], r["round"]): r for r in map(json.loads, results_file.read_text().splitlines())} \
        if results_file.exists() else {}
    pool = read_conll(ROOT.parent / "shared" / "data" / "conll2003" / "train.txt")

    def record(row):
        done[(row["seed"], row["arm"], row["round"])] = row
        with open(results_file, "a") as out:
            out.write(json.dumps(row) + "\n")
        print(json.dumps({k: v for k, v in row.items() if k != "labelled"}), flush=True)

    for seed in args.seeds:
        start = sorted(random.Random(seed).sample(range(len(pool)), args.start))
        zero = work / f"s{seed}-r0"
        if (seed, "all", 0) not in done or not (zero / "model").is_dir():
            with training_lock(args.lock):
                row = train_round(pool, start, zero, args.steps, seed, args.override)
            record({"seed": seed, "arm": "all", "round": 0, "sentences": len(start), "labelled": start, **row})
        state = {arm: (list(start), zero) for arm in args.arms}
        for r in range(1, args.rounds + 1):  # round by round, so that a run cut short still compares the arms
            for arm in args.arms:
                labelled, previous = state[arm]
                folder = work / f"s{seed}-{arm}-r{r}"
                if (seed, arm, r) in done and (r == args.rounds or (seed, arm, r + 1) in done
                                               or (folder / "model").is_dir()):
                    state[arm] = (done[(seed, arm, r)]["labelled"], folder)
                    continue
                with training_lock(args.lock):
                    if arm == "random":
                        rest = sorted(set(range(len(pool))) - set(labelled))
                        picks, select_s = random.Random(f"{seed}-{arm}-{r}").sample(rest, args.step), 0.0
                    else:
                        picks, select_s = rank_pool(pool, set(labelled), previous / "model", arm, args.step)
                    labelled = labelled + picks
                    row = train_round(pool, labelled, folder, args.steps, seed, args.override)
                record({"seed": seed, "arm": arm, "round": r, "sentences": len(labelled), "select_s": select_s,
                        "labelled": labelled, **row})
                if previous != zero:
                    shutil.rmtree(previous / "model", ignore_errors=True)  # disk: only the latest model is needed
                state[arm] = (labelled, folder)
        for labelled, previous in state.values():
            shutil.rmtree(previous / "model", ignore_errors=True)


def report(args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = [Path(args.work) / "results.jsonl", *map(Path, args.extra)]
    rows = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    zero = {r["seed"]: r for r in rows if r["round"] == 0}
    table = {}
    for arm in ARMS:
        for r in [0, *sorted({r["round"] for r in rows if r["round"]})]:
            found = [zero[s] for s in zero] if r == 0 else [x for x in rows if x["arm"] == arm and x["round"] == r]
            if found:
                table[arm, found[0]["sentences"]] = [x["test_f1"] for x in found]
    goal = 0.95 * FULL_DATA_F1
    print(f"full-data test F1 {FULL_DATA_F1}; 95%: {goal:.4f}")
    print("| labelled | " + " | ".join(ARMS) + " |\n|---|" + "---|" * len(ARMS))
    for size in sorted({s for _, s in table}):
        print(f"| {size:,} | " + " | ".join(_cell(table.get((arm, size))) for arm in ARMS) + " |")
    from nerkit.formats.conll import read_conll

    pool = read_conll(ROOT.parent / "shared" / "data" / "conll2003" / "train.txt")
    print("| labelled sentences | " + " | ".join(f"{arm}: words, entities" for arm in ARMS) + " |\n|---|"
          + "---|" * len(ARMS))
    for size in sorted({s for _, s in table}):
        cells = []
        for arm in ARMS:
            found = [x["labelled"] for x in rows if x["sentences"] == size and x["arm"] in (arm, "all")
                     and x.get("labelled")]  # --extra rows may hold only the scores
            words = [sum(len(pool[i]["tokens"]) for i in labelled) for labelled in found]
            entities = [sum(t.startswith("B-") for i in labelled for t in pool[i]["tags"]) for labelled in found]
            cells.append(f"{statistics.mean(words):,.0f}, {statistics.mean(entities):,.0f}" if found else "-")
        print(f"| {size:,} | " + " | ".join(cells) + " |")
    at = {(x["arm"], x["seed"]): x["test_f1"] for x in rows if x["sentences"] == 1000}
    for arm in ("entropy", "mnlp"):  # issue 30's goal: at least 2 points above random at 1,000, mean over seeds
        seeds = sorted(s for a, s in at if a == arm and ("random", s) in at)
        if seeds:
            gaps = [at[arm, s] - at["random", s] for s in seeds]
            print(f"{arm} - random at 1,000 sentences: {100 * statistics.mean(gaps):+.2f} points, mean over seeds "
                  f"{', '.join(map(str, seeds))} (per seed: {', '.join(f'{100 * g:+.2f}' for g in gaps)})")
    for arm in ARMS:
        reached = [s for (a, s), f in sorted(table.items()) if a == arm and statistics.mean(f) >= goal]
        print(f"{arm}: 95% of full-data F1 first reached at {reached[0] if reached else 'not within the rounds run'}")
    for arm in ARMS:
        times = [(x["train_s"], x.get("select_s", 0.0)) for x in rows if x["arm"] == arm and "train_s" in x]
        if times:
            print(f"{arm}: per round {statistics.mean(t for t, _ in times):.0f} s training+test, "
                  f"{statistics.mean(s for _, s in times):.0f} s selection")
    figure, axes = plt.subplots(figsize=(6, 4))
    for arm in ARMS:
        sizes = sorted(s for a, s in table if a == arm)
        means = [statistics.mean(table[arm, s]) for s in sizes]
        sds = [statistics.stdev(table[arm, s]) if len(table[arm, s]) > 1 else 0 for s in sizes]
        axes.errorbar(sizes, means, yerr=sds, marker="o", capsize=3, label=arm)
    axes.axhline(goal, color="grey", linestyle="--", label="95% of full-data F1")
    seeds = sorted(zero)
    axes.set(xlabel="labelled sentences", ylabel="test F1 (CoNLL-2003)",
             title=f"MiniLM, {args.steps_label}, seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}")
    axes.legend()
    figure.tight_layout()
    figure.savefig(args.report, dpi=120)
    print(f"wrote {args.report}")


def _cell(values) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", required=True, help="folder for rounds' data, models and results.jsonl")
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    parser.add_argument("--arms", nargs="+", default=list(ARMS), choices=ARMS)
    parser.add_argument("--start", type=int, default=200)
    parser.add_argument("--step", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=120, help="optimizer steps per round (batch 32), every arm")
    parser.add_argument("--override", nargs="*", default=[], help="more recipe overrides (a smoke test: a tiny model)")
    parser.add_argument("--lock", default=LOCK, help="the machine-wide training lock, taken for each round")
    parser.add_argument("--report", help="print the tables and write the plot PNG here instead of running")
    parser.add_argument("--extra", nargs="*", default=[], help="--report: more results files (rows of seeds run "
                                                                 "elsewhere; rows without `labelled` count in F1 only)")
    args = parser.parse_args()
    args.steps_label = f"{args.steps} steps of 32 per round"
    report(args) if args.report else run(args)


if __name__ == "__main__":
    main()
