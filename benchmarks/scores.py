"""Issue 24's measurement: calibration, thresholds tuned on dev, and what tuning and the bootstrap cost.

    OMP_NUM_THREADS=1 flock /work/models/train.lock python benchmarks/scores.py /work/models/softmax-42 \
        --copy /work/models/scores/softmax-42 --out /work/models/scores/reports

The run is copied first (the original is never written). Then, each step one `nerkit evaluate` command
(printed as it runs), dev = ../shared/data/conll2003/valid.txt, test = test.txt; nothing is tuned on test:
  1. dev:  --calibrate --tune-thresholds --min-precision 0.95   (calibrator and thresholds into the copy)
  2. test: ECE of the raw and the calibrated scores; per-type precision/recall at those thresholds and F1
           without thresholds
  3. dev:  --tune-thresholds                                      (F1-max thresholds, replacing the others)
  4. test: F1 at the F1-max thresholds against none
  5. test: --bootstrap 0 --threshold 0, for the time a plain evaluate takes
Printed: one summary table; the reports stay in --out.

    OMP_NUM_THREADS=1 flock /work/models/train.lock python benchmarks/scores.py /work/models/softmax-42 --dev-folds 2

    OMP_NUM_THREADS=1 python benchmarks/scores.py --runs RUN [RUN ...]

`--runs`: the calibration and min-precision figures over several models (seeds), nothing written into
them. Each run tags dev and test once; the calibrator (`auto`: the kind with the lower held-out ECE over 5
folds of the dev entities) and the `--min-precision 0.95` thresholds are fitted on dev exactly as
`nerkit evaluate valid.txt --calibrate --tune-thresholds --min-precision 0.95` fits them; test is scored.

`--dev-folds K`: calibration without the dev-to-test shift. Dev's sentences are dealt into K folds (seeded);
for each fold, a calibrator fitted on the other folds' entities is scored on it (ECE, 10 bins). Nothing
is written and test is not read.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "conll2003"


def evaluate(run: Path, data: Path, report: Path, *options: str) -> tuple[dict, float]:
    from nerkit.cli import main

    argv = ["evaluate", str(run), str(data), "--output", str(report), *options]
    print("$ nerkit " + " ".join(argv), flush=True)
    started = time.perf_counter()
    assert main(argv) == 0
    return json.loads(report.read_text()), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", nargs="?")
    parser.add_argument("--copy", help="where the run is copied (and calibrated)")
    parser.add_argument("--out", help="folder for the reports")
    parser.add_argument("--dev-folds", type=int, help="only the cross-validated calibration of dev, in K folds")
    parser.add_argument("--runs", nargs="+", help="only the calibration and min-precision figures of these runs")
    args = parser.parse_args()
    if args.runs:
        return over_runs(args.runs)
    if args.dev_folds:
        return dev_folds(args.model, args.dev_folds)
    if not (args.model and args.copy and args.out):
        parser.error("a model with --copy and --out are needed (or --dev-folds, or --runs)")
    copy, out = Path(args.copy), Path(args.out)
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(args.model, copy, ignore=shutil.ignore_patterns("checkpoint-*"))
    out.mkdir(parents=True, exist_ok=True)
    dev, test = DATA / "valid.txt", DATA / "test.txt"

    tuned_dev, dev_s = evaluate(copy, dev, out / "dev-calibrate-minprec.json", "--calibrate", "--tune-thresholds",
                                "--min-precision", "0.95")
    minprec, minprec_s = evaluate(copy, test, out / "test-minprec.json")
    f1_dev, _ = evaluate(copy, dev, out / "dev-f1.json", "--tune-thresholds")
    f1_test, _ = evaluate(copy, test, out / "test-f1.json")
    plain, plain_s = evaluate(copy, test, out / "test-plain.json", "--bootstrap", "0", "--threshold", "0")

    s = minprec["entity_scores"]
    print("\n== calibration (isotonic per type, fitted on dev) ==")
    print(f"test ECE raw {s['ece_raw']:.4f}  calibrated {s['ece_calibrated']:.4f}  ({s['entities']} predicted entities)")
    d = tuned_dev["entity_scores"]
    print(f"dev  ECE raw {d['ece_raw']:.4f}  calibrated {d['ece_calibrated']:.4f}  (in sample)")
    print("\n== --min-precision 0.95 tuned on dev, scored on test ==")
    print(f"thresholds: {minprec['thresholds']}   notes: {d.get('notes', [])}")
    for kind, v in minprec["per_type"].items():
        dev_v = tuned_dev["per_type"][kind]
        print(f"{kind:<5} test precision {v['precision']:.4f} recall {v['recall']:.4f} f1 {v['f1']:.4f}   "
              f"(dev precision {dev_v['precision']:.4f} recall {dev_v['recall']:.4f})")
    w = minprec["without_thresholds"]
    print(f"micro test precision {minprec['precision']:.4f} recall {minprec['recall']:.4f} f1 {minprec['f1']:.4f}  "
          f"| no threshold: precision {w['precision']:.4f} recall {w['recall']:.4f} f1 {w['f1']:.4f}")
    print("\n== F1-max thresholds tuned on dev, scored on test ==")
    print(f"thresholds: {f1_test['thresholds']}")
    w = f1_test["without_thresholds"]
    print(f"test f1 {f1_test['f1']:.4f} {f1_test['intervals']['f1']}  | no threshold f1 {w['f1']:.4f}  "
          f"(dev: {f1_dev['f1']:.4f} vs {f1_dev.get('without_thresholds', {}).get('f1', f1_dev['f1']):.4f})")
    print("\n== time ==")
    print(f"dev calibrate + tune: scoring/fit/tune {tuned_dev['timings']['scores_s']:.2f} s of {dev_s:.1f} s; "
          f"test bootstrap (1,000 resamples) {minprec['timings']['bootstrap_s']:.2f} s of {minprec_s:.1f} s; "
          f"plain test evaluate (no bootstrap, no threshold) {plain_s:.1f} s")


def labelled(model: str, name: str):
    """The decoded entities of one CoNLL-2003 file tagged by `model` (every entity, no threshold)."""
    from nerkit.calibration import labelled_entities
    from nerkit.config import DataConfig
    from nerkit.data import load_corpus
    from nerkit.inference.tagger import Tagger

    sentences = load_corpus(DataConfig(test=str(DATA / name))).splits["test"]
    tagger = Tagger.load(model, precision="fp32", threshold=0)
    tagged = tagger.decode(tagger.word_scores([s["tokens"] for s in sentences]), threshold=0)
    return labelled_entities([s["tags"] for s in sentences], tagged)


def over_runs(runs: list[str], min_precision: float = 0.95) -> None:
    import numpy as np

    from nerkit.calibration import expected_calibration_error, fit
    from nerkit.thresholds import tune

    print("| run | calibrator (held-out ECE on dev) | test ECE raw | calibrated | test precision at dev "
          f"min-precision {min_precision}: LOC, MISC, ORG, PER | micro P / R |\n|---|---|---|---|---|---|")
    for run in runs:
        dev, test = labelled(run, "valid.txt"), labelled(run, "test.txt")
        calibrator = fit(dev.kinds, dev.scores(), dev.correct, fitted_on="valid.txt")
        dev_scores, test_scores = dev.scores(calibrator), test.scores(calibrator)
        limits = tune(dev.kinds, dev_scores, dev.correct, dev.gold, min_precision).per_type
        kinds = np.asarray(test.kinds, dtype=object)
        kept = np.array([s >= limits.get(k, 0.0) for k, s in zip(test.kinds, test_scores)], dtype=bool)
        precision = {k: test.correct[kept & (kinds == k)].mean() for k in sorted(test.gold)}
        held = ", ".join(f"{m} {e:.4f}" for m, e in calibrator.cross_validated_ece.items())
        print(f"| {run} | {calibrator.method} ({held}) | {expected_calibration_error(test.scores(), test.correct):.4f} "
              f"| {expected_calibration_error(test_scores, test.correct):.4f} | "
              + ", ".join(f"{precision[k]:.4f}" for k in precision)
              + f" | {test.correct[kept].mean():.4f} / {test.correct[kept].sum() / sum(test.gold.values()):.4f} |",
              flush=True)


def dev_folds(model: str, folds: int, seed: int = 0) -> None:
    import numpy as np

    from nerkit.calibration import expected_calibration_error, fit, labelled_entities
    from nerkit.config import DataConfig
    from nerkit.data import load_corpus
    from nerkit.inference.tagger import Tagger

    sentences = load_corpus(DataConfig(validation=str(DATA / "valid.txt"))).splits["validation"]
    tagger = Tagger.load(model, precision="fp32", threshold=0)
    tagged = tagger.decode(tagger.word_scores([s["tokens"] for s in sentences]), threshold=0)
    fold = np.random.default_rng(seed).permutation(len(sentences)) % folds
    rows = []
    for k in range(folds):
        parts = [[i for i in range(len(sentences)) if (fold[i] == k) == held] for held in (False, True)]
        fitting, held = (labelled_entities([sentences[i]["tags"] for i in p], [tagged[i] for i in p]) for p in parts)
        calibrator = fit(fitting.kinds, fitting.scores(), fitting.correct)
        raw, calibrated = held.scores(), held.scores(calibrator)
        rows.append((expected_calibration_error(raw, held.correct), expected_calibration_error(calibrated, held.correct)))
        print(f"fold {k}: {len(raw)} held-out entities, ECE raw {rows[-1][0]:.4f} calibrated {rows[-1][1]:.4f}")
    print(f"mean over {folds} folds: ECE raw {np.mean([r[0] for r in rows]):.4f} "
          f"calibrated {np.mean([r[1] for r in rows]):.4f}")


if __name__ == "__main__":
    main()
