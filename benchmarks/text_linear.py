"""Raw text in linear time: the word and sentence splitters and `write_conll` on long adversarial lines.

    python benchmarks/text_linear.py            # fixed adversarial lines, then a property test over random ones

Each line is about 80 KB with no newline (80 KB of ") " once took 52 s in the sentence splitter, and
`--format conll` was quadratic in entities x words). For each line the time of split_words +
split_sentences + write_conll (an entity on every other word) is measured at 80 KB and at 160 KB:
the run fails if any 80 KB line takes more than BUDGET seconds or doubling the line more than triples
the time. The property test builds lines by repeating random sequences of adversarial pieces.
"""

from __future__ import annotations

import io
import sys
import time

from hypothesis import given, settings, strategies as st

SIZE, BUDGET = 80_000, 5.0  # before: 52 s for 80 KB of ") "; linear code takes about a second
PIECES = [") ", '" ', "“ ", "« ", "。」", "」と", ". ", "! ", "A. ", "U.S.", "1-", "1,", "a", "aaaa-", "e\u0301",
          " \u0301", "Mr. ", "n't ", "'s ", "O'", "--", "...", "+44 ", "1,000.5 ", "कि", "ी", "北", "\u3000", "$",
          "'", "-", ".", "A", "\u200d"]


def run_once(line: str) -> float:
    from nerkit.formats.conll import write_conll
    from nerkit.text import split_sentences, split_words

    started = time.perf_counter()
    words = split_words(line)
    split_sentences(words, line)
    entities = [{"label": "X", "start": w.start, "end": w.end} for w in words[::2]]
    write_conll([{"text": line, "entities": entities}], io.StringIO())
    return time.perf_counter() - started


def check(line_of) -> tuple[float, float]:
    """Seconds at SIZE and at 2 x SIZE characters; raises when over budget or worse than linear."""
    small, large = run_once(line_of(SIZE)), run_once(line_of(2 * SIZE))
    if small > BUDGET or large > 3 * max(small, 0.05):
        raise AssertionError(f"{line_of(40)!r}...: {small:.2f}s at {SIZE:,} chars, {large:.2f}s at {2 * SIZE:,}")
    return small, large


def repeat(pattern: str):
    return lambda n: (pattern * (n // len(pattern) + 1))[:n]


worst: list[tuple[float, str]] = []


@settings(max_examples=25, deadline=None, database=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=6))
def test_random_adversarial_lines_are_linear(pieces):
    small, _ = check(repeat("".join(pieces)))
    worst.append((small, "".join(pieces)))


def ending(pattern: str, tail: str):
    """One long run that fails at its very end: what makes a backtracking regex quadratic."""
    return lambda n: repeat(pattern)(n - len(tail)) + tail


LINES = {") ": repeat(") "), '" ': repeat('" '), "。」": repeat("。」"), ". ) ": repeat(". ) "), "A. ": repeat("A. "),
         "Mr. ": repeat("Mr. "), "北": repeat("北"), "e + U+0301": repeat("e\u0301"), "1-1-...-1a": ending("1-", "1a"),
         "1,1,...,1a": ending("1,", "1a"), "aaa...n'": ending("a", "n'"), "A.A....Aa": ending("A.", "Aa"),
         "ab'ab'...s": ending("ab'", "s")}


def main() -> None:
    print("| line (repeated to the length) | 80 KB | 160 KB |\n|---|---|---|")
    for name, line_of in LINES.items():
        small, large = check(line_of)
        print(f"| `{name}` | {small:.3f} s | {large:.3f} s |", flush=True)
    test_random_adversarial_lines_are_linear()
    worst.sort(reverse=True)
    print(f"property test: {len(worst)} random lines of {SIZE:,} chars, slowest {worst[0][0]:.3f} s "
          f"({worst[0][1]!r} repeated); budget {BUDGET} s")


if __name__ == "__main__":
    sys.exit(main())
