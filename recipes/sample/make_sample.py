"""Writes the quick-start sample data: template sentences with invented combinations of common names.

    python recipes/sample/make_sample.py   # -> nerkit/sample/{train,validation,test}.conll

The files ship inside the package (`nerkit init` copies them beside a new recipe); recipes/sample/ holds
links to them, so the repository's recipes and tests read the same files.

Small, deterministic and written by this project (not taken from any corpus), in CoNLL IOB2 columns
with -DOCSTART- document boundaries, so the offline default exercises the same reader as real data.
"""

import random
from pathlib import Path

PER = ["Anna Schmidt", "John Smith", "Maria Garcia", "Li Wei", "Ahmed Khan", "Sofia Rossi", "James Brown",
       "Yuki Tanaka", "Olga Ivanova", "Pierre Martin", "Fatima Diallo", "Carlos Silva", "Emma Wilson", "Ravi Patel"]
LOC = ["Paris", "Berlin", "Tokyo", "New York", "Cairo", "Lima", "Sydney", "Toronto", "Nairobi", "Madrid",
       "Oslo", "Mumbai", "Chicago", "Lagos", "Vienna", "South Africa", "Brazil", "Canada"]
ORG = ["Acme Corp", "Globex", "United Nations", "Red Cross", "Northwind Bank", "Initech", "Umbrella Group",
       "Blue River Airlines", "Stark Industries", "Central Bank"]
MISC = ["German", "French", "Olympic", "Japanese", "Nobel", "Brazilian", "World Cup", "Christmas", "English"]
TEMPLATES = [
    "{PER} visited {LOC} on Monday .",
    "{ORG} said on Tuesday that {PER} will lead its office in {LOC} .",
    "The {MISC} team beat {LOC} 2-1 in {LOC} .",
    "{PER} , a spokesman for {ORG} , declined to comment .",
    "Shares of {ORG} rose 3 percent in {LOC} trading .",
    "{PER} won the {MISC} prize last year .",
    "Police in {LOC} arrested two men , {PER} told reporters .",
    "{ORG} and {ORG} agreed to merge , the companies said .",
    "The {MISC} government sent {PER} to {LOC} for talks .",
    "It was raining in {LOC} when {PER} arrived .",
    "Nothing happened on Sunday .",
    "{PER} joined {ORG} in 1998 after leaving {LOC} .",
]


def sentence(rng: random.Random) -> list[tuple[str, str]]:
    pools = {"PER": PER, "LOC": LOC, "ORG": ORG, "MISC": MISC}
    rows = []
    for piece in rng.choice(TEMPLATES).split():
        if piece.startswith("{") and piece.endswith("}"):
            kind = piece[1:-1]
            for k, word in enumerate(rng.choice(pools[kind]).split()):
                rows.append((word, ("B-" if k == 0 else "I-") + kind))
        else:
            rows.append((piece, "O"))
    return rows


def write(path: Path, documents: int, seed: int) -> None:
    rng = random.Random(seed)
    lines = []
    for _ in range(documents):
        lines += ["-DOCSTART- -X- -X- O", ""]
        for _ in range(rng.randint(3, 8)):
            lines += [f"{word} _ _ {tag}" for word, tag in sentence(rng)] + [""]
    path.write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    here = Path(__file__).resolve().parents[2] / "nerkit" / "sample"
    for name, documents, seed in (("train", 60, 1), ("validation", 12, 2), ("test", 12, 3)):
        write(here / f"{name}.conll", documents, seed)
