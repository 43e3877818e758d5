"""What `nerkit evaluate` reports about entity scores, and what `--calibrate` and `--tune-thresholds` fit on
the evaluated file and store in the run's nerkit.json (atomically; the card is rewritten to match).

    nerkit evaluate runs/conll03 valid.txt --calibrate --tune-thresholds --min-precision 0.95

The decoded entities of the file, before any threshold, are scored against the gold ones (exactly right:
type and both boundaries). Reported: the expected calibration error (10 bins) of the raw and the calibrated
scores with their reliability bins, and each type's precision-recall curve over score thresholds.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .calibration import expected_calibration_error, fit, labelled_entities, reliability
from .errors import UsageError
from .metadata import FILE, RunMetadata
from .thresholds import GRID, curve, tune

logger = logging.getLogger(__name__)


def check_writable_run(model: Any, calibrate: bool, tune_thresholds: bool, min_precision: float | None,
                       threshold: Any) -> None:
    """Before the model loads: what the options ask can be done."""
    if min_precision is not None and not tune_thresholds:
        raise UsageError("--min-precision chooses how --tune-thresholds tunes; add --tune-thresholds")
    if tune_thresholds and threshold is not None:
        raise UsageError("--tune-thresholds chooses the thresholds itself; leave out --threshold")
    if (calibrate or tune_thresholds) and not (isinstance(model, (str, Path)) and Path(model, FILE).is_file()):
        flag = "--calibrate" if calibrate else "--tune-thresholds"
        raise UsageError(f"{flag} writes into the run's {FILE}: {model} is not a local run folder with one")


def store(run: str | Path, **changes: Any) -> Path:
    """Change fields of a run's nerkit.json (atomically) and rewrite its card (an ONNX folder's with its
    export section)."""
    from .hub import refresh_card

    folder = Path(run)
    RunMetadata.from_file(folder / FILE, folder).replace(**changes).write(folder)
    refresh_card(folder)
    return folder / FILE


def score_section(tagger, run: Any, gold: Sequence[Sequence[str]], scores, data: str, calibrate: bool = False,
                  tune_thresholds: bool = False, min_precision: float | None = None,
                  calibration: str = "auto") -> dict[str, Any]:
    """ECE, reliability bins and precision-recall curves; with `calibrate` / `tune_thresholds` the fitted
    calibrator / thresholds are set on `tagger` and stored in `run`."""
    entities = labelled_entities(gold, tagger.decode(scores, threshold=0))
    raw, correct = entities.scores(), entities.correct
    section: dict[str, Any] = {"entities": len(raw), "exactly_right": int(correct.sum()),
                               "ece_raw": expected_calibration_error(raw, correct), "bins": 10,
                               "reliability": {"raw": reliability(raw, correct)}}
    changes: dict[str, Any] = {}
    if calibrate:
        tagger.calibrator = changes["calibrator"] = fit(entities.kinds, raw, correct, fitted_on=Path(data).name,
                                                        method=calibration)
        if tagger.metadata.thresholds is not None and not tune_thresholds:  # tuned on the old scores
            changes["thresholds"], tagger.thresholds = None, {}
            section["notes"] = ["the stored thresholds were tuned on the uncalibrated scores and are removed; "
                                "tune them again with --tune-thresholds"]
    final = raw
    if tagger.calibrator is not None:
        final = entities.scores(tagger.calibrator)
        c = tagger.calibrator
        section["calibrator"] = {"method": c.method, "per_type": sorted(c.per_type), "fitted_on": c.fitted_on,
                                 "entities": c.entities, "cross_validated_ece": c.cross_validated_ece}
        section["ece_calibrated"] = expected_calibration_error(final, correct)
        section["reliability"]["calibrated"] = reliability(final, correct)
    if tune_thresholds:
        tuned = tune(entities.kinds, final, correct, entities.gold, min_precision, tuned_on=Path(data).name)
        changes["thresholds"] = tuned
        tagger.thresholds = {k: v for k, v in tuned.per_type.items() if v > 0}
        section["tuned"] = {"objective": tuned.objective, "per_type": tuned.per_type}
        section.setdefault("notes", []).extend(tuned.notes)
    if changes:
        section["stored_in"] = str(store(run, **changes))
    kinds = np.asarray(entities.kinds, dtype=object)
    section["pr_curves"] = {kind: {k: v.tolist() for k, v in curve(final[kinds == kind], correct[kinds == kind],
                                                                  entities.gold.get(kind, 0), GRID).items()}
                            for kind in sorted(set(entities.gold) | set(entities.kinds))}
    return section


def method_text(calibrator: dict[str, Any]) -> str:
    """`isotonic`, or with method="auto": `isotonic: held-out ECE 0.0185 against platt 0.0246`."""
    method, folds = calibrator["method"], calibrator.get("cross_validated_ece")
    if not folds:
        return method
    others = ", ".join(f"{m} {e:.4f}" for m, e in folds.items() if m != method)
    return f"{method}: held-out ECE {folds[method]:.4f} against {others}"


def format_scores(section: dict[str, Any]) -> str:
    line = f"entity scores: ECE {section['ece_raw']:.4f} raw"
    if "ece_calibrated" in section:
        c = section["calibrator"]
        line += f", {section['ece_calibrated']:.4f} calibrated ({method_text(c)}, fitted on {c['fitted_on']})"
    line += f" over {section['entities']} predicted entities ({section['exactly_right']} exactly right)"
    lines = [line]
    if "tuned" in section:
        values = ", ".join(f"{k} {v:g}" for k, v in section["tuned"]["per_type"].items())
        lines.append(f"thresholds tuned ({section['tuned']['objective']}): {values}; stored in {section['stored_in']}")
    elif "stored_in" in section:
        lines.append(f"calibrator stored in {section['stored_in']}")
    lines += [f"note: {n}" for n in section.get("notes", [])]
    return "\n".join(lines)
