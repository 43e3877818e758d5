"""The evaluate report's pictures: confusion matrix of entity types, reliability diagram, precision-recall
curves (matplotlib, imported when a picture is drawn)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: str | Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def plot_reliability(diagrams: dict[str, list[dict[str, Any]]], path: str | Path) -> Path:
    """One line per score kind (raw, calibrated): share of entities exactly right against mean score, per bin."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    for name, rows in diagrams.items():
        filled = [r for r in rows if r["entities"]]
        ax.plot([r["mean_score"] for r in filled], [r["accuracy"] for r in filled], marker="o", label=name)
    ax.set(xlabel="entity score (bin mean)", ylabel="share of entities exactly right", xlim=(0, 1), ylim=(0, 1),
           title="reliability (10 equal-width bins)")
    ax.legend(loc="upper left")
    return _save(plt, fig, path)


def plot_pr_curves(curves: dict[str, dict[str, list[float]]], path: str | Path,
                   chosen: dict[str, tuple[float, float]] | None = None) -> Path:
    """Precision against recall per type as the score threshold rises; `chosen`: {type: (recall, precision)}
    at the thresholds in force, marked with a dot."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    for kind, points in curves.items():
        line, = ax.plot(points["recall"], points["precision"], label=kind)
        if chosen and kind in chosen:
            ax.plot(*chosen[kind], marker="o", color=line.get_color())
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.01),
           title="precision-recall per type (dots: thresholds in force)")
    ax.legend(loc="lower left")
    return _save(plt, fig, path)


def plot_confusion(confusion: Counter, path: str | Path) -> Path:
    """Gold entity type (rows) against predicted type (columns); O means no overlapping entity."""
    plt = _pyplot()
    kinds = sorted({k for pair in confusion for k in pair} - {"O"}) + ["O"]
    grid = [[confusion.get((g, p), 0) for p in kinds] for g in kinds]
    fig, ax = plt.subplots(figsize=(1.2 * len(kinds) + 2, 1.2 * len(kinds) + 1.5))
    ax.imshow(grid, cmap="Blues")
    ax.set_xticks(range(len(kinds)), kinds)
    ax.set_yticks(range(len(kinds)), kinds)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            ax.text(j, i, str(value), ha="center", va="center", color="black" if value < max(map(max, grid)) / 2 else "white")
    ax.set_title("entity types (O: no overlapping entity)")
    return _save(plt, fig, path)
