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


def plot_reliability(diagrams: dict[str, list[dict[str, Any]]], path: str | Path) -> Path:
    """One line per score kind (raw, calibrated): share of entities exactly right against mean score, per bin."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    for name, rows in diagrams.items():
        filled = [r for r in rows if r["entities"]]
        ax.plot([r["mean_score"] for r in filled], [r["accuracy"] for r in filled], marker="o", label=name)
    ax.set_xlabel("entity score (bin mean)")
    ax.set_ylabel("share of entities exactly right")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")
    ax.set_title("reliability (10 equal-width bins)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


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
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.legend(loc="lower left")
    ax.set_title("precision-recall per type (dots: thresholds in force)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


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
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
