"""Raw text in Chinese: a character-level BMES corpus, raw-text F1 against word-level F1.

    python benchmarks/chinese_chars.py runs/zh-chars              # generate, train MiniLM 150 steps, score
    python benchmarks/chinese_chars.py runs/zh-chars --no-train   # score an existing run in runs/zh-chars/model

Sentences are generated from templates with person, place and organisation names (one character per line,
BMES tags, as MSRA/Weibo/Resume files are), so nothing here is a real corpus; the offline MiniLM's vocabulary
covers only part of CJK (246 characters; the rest become [UNK]), so the score itself means little. What is
measured is whether raw text is tagged as the words were: the test sentences (with names training never
saw) are written as natural text, two to a text (no spaces between CJK characters, none after 。！？),
tagged with nerkit's raw-text path (sentence and word splitting, exact offsets) and scored as character
spans against the gold spans; the word-level F1 is `nerkit evaluate` on
the same file. The two must agree within 0.005.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

SURNAMES = "王李張劉陳楊林高吉田藤佐"
GIVEN = ["明", "春", "秀英", "志忠", "雄", "義", "英華", "龍", "光", "信", "健", "弘", "智", "真", "幸", "美花", "正", "文"]
PLACES = ["北京", "南京", "東京", "上海", "山東", "河北", "河南", "山西", "江西", "四川", "西安", "京都", "長崎", "福岡",
          "大阪", "天津", "香港", "廣州"]
ORGS = ["北京大学", "東京大学", "新華社", "東方公司", "中和公司", "中国石油", "人民日報", "明治学院", "国民銀行", "天山集团",
        "長江電力", "中央电视台"]
TEMPLATES = [
    "{PER}昨天在{LOC}会见了{ORG}的代表。",
    "{ORG}的{PER}说，{LOC}的经济正在好转。",
    "{PER}和{PER}一起去了{LOC}。",
    "据{ORG}报道，{LOC}今年的人口增加了。",
    "{LOC}是{PER}的故乡吗？",
    "{PER}在{ORG}工作了十年，后来回到{LOC}。",
    "{ORG}宣布在{LOC}设立新的总部！",
    "来自{LOC}的{PER}加入了{ORG}。",
    "{PER}表示：“{LOC}欢迎大家。”",
    "{LOC}和{LOC}之间的铁路由{ORG}建设。",
]


def sentence(rng: random.Random, held_out: bool) -> list[tuple[str, str]]:
    """(character, IOB2 tag) pairs of one generated sentence; the last quarter of each name list only
    with `held_out` (the test split), so test has names training never saw."""
    def pick(names):
        return rng.choice(names if held_out else names[:len(names) * 3 // 4])

    template, pairs = rng.choice(TEMPLATES), []
    for k, piece in enumerate(template.replace("{", "}").split("}")):
        if k % 2 == 0:
            pairs += [(c, "O") for c in piece]
            continue
        name = {"PER": lambda: pick(SURNAMES) + pick(GIVEN), "LOC": lambda: pick(PLACES),
                "ORG": lambda: pick(ORGS)}[piece]()
        pairs += [(c, ("B-" if i == 0 else "I-") + piece) for i, c in enumerate(name)]
    return pairs


def write_corpus(directory: Path, sizes=(("train", 3000), ("validation", 400), ("test", 600)), seed=0) -> dict:
    from nerkit.schemes import from_iob2

    rng, paths = random.Random(seed), {}
    directory.mkdir(parents=True, exist_ok=True)
    for split, n in sizes:
        lines = []
        for _ in range(n):
            pairs = sentence(rng, held_out=split == "test")
            tags = from_iob2([t for _, t in pairs], "bmes")
            lines += [f"{c} {t}" for (c, _), t in zip(pairs, tags)] + [""]
        paths[split] = directory / f"{split}.bmes"
        paths[split].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths


def train(paths: dict, output: Path, steps: int, batch_size: int) -> None:
    from nerkit.config import recipe_from_dict
    from nerkit.training import train as run

    run(recipe_from_dict({
        "model": {"name_or_path": "minilm"},
        "data": {k: str(v) for k, v in paths.items()} | {"max_length": 64},
        "training": {"output_dir": str(output), "max_steps": steps, "learning_rate": 2e-4,
                     "per_device_train_batch_size": batch_size, "per_device_eval_batch_size": 128, "warmup_steps": 0.1,
                     "eval_strategy": "no", "save_strategy": "no", "seed": 42, "logging_steps": 50},
    }))


def raw_text_scores(model: Path, test: Path) -> dict:
    """Entity P/R/F1 of the raw-text path on the test sentences written as natural text."""
    import nerkit
    from nerkit.agreement import natural_text
    from nerkit.config import DataConfig
    from nerkit.data import load_corpus
    from nerkit.evaluation import evaluate
    from nerkit.schemes import spans

    sys_path = Path(__file__).resolve().parent
    import sys

    sys.path.insert(0, str(sys_path))
    from predict_speed import prf

    sentences = load_corpus(DataConfig(test=str(test))).splits["test"]
    texts, gold = [], []
    for pair in zip(sentences[::2], sentences[1::2]):  # two sentences per text: the splitter must find the end
        text, entities = "", set()
        for s in pair:
            written, offsets = natural_text(s["tokens"])
            entities |= {(kind, len(text) + offsets[a][0], len(text) + offsets[b - 1][1]) for kind, a, b in spans(s["tags"])}
            text += written
        texts.append(text)
        gold.append(entities)
    results = nerkit.load(str(model), precision="fp32").predict(texts)
    predicted = [{(e["label"], e["start"], e["end"]) for e in r["entities"]} for r in results]
    word_level = evaluate(str(model), str(test))
    return {"word_level_f1": word_level["f1"], "raw_text": prf(gold, predicted), "sentences": len(sentences),
            "texts": len(texts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--no-train", action="store_true")
    args = parser.parse_args()
    paths = write_corpus(args.directory / "data")
    if not args.no_train:
        train(paths, args.directory / "model", args.steps, args.batch_size)
    scores = raw_text_scores(args.directory / "model", paths["test"])
    metadata = json.loads((args.directory / "model" / "nerkit.json").read_text())
    raw = scores["raw_text"]
    print(f"test sentences: {scores['sentences']} in {scores['texts']} texts; word-level F1 {scores['word_level_f1']:.4f}; raw-text F1 "
          f"{raw['f1']:.4f} (P {raw['precision']:.4f} R {raw['recall']:.4f}, {raw['predicted']} predicted, "
          f"{raw['gold']} gold); difference {abs(raw['f1'] - scores['word_level_f1']):.4f}")
    print("agreement:", json.dumps(metadata.get("raw_text_agreement"), ensure_ascii=False))
    (args.directory / "scores.json").write_text(json.dumps(scores, indent=2))


if __name__ == "__main__":
    main()
