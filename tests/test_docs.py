"""The guides as a newcomer meets them: every page renders (no code fence left open), and every `nerkit ...`
command line in a code block parses with the current command line, as do the `--help` pages."""

import shlex
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from nerkit.cli import build_parser

from conftest import ROOT

PAGES = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md"]
SHELL = ("", "bash", "sh", "console", "shell")


def fences(page: Path):
    return [t for t in MarkdownIt("commonmark").parse(page.read_text(encoding="utf-8")) if t.type == "fence"]


def command_lines(page: Path):
    """(line number, argv for nerkit) of each nerkit command in the page's shell blocks."""
    for token in fences(page):
        if token.info.strip() not in SHELL:
            continue
        for offset, line in enumerate(token.content.replace("\\\n", " ").splitlines()):
            for part in line.replace("&&", "|").replace(";", "|").split("|"):
                part = part.strip().removeprefix("$ ")
                if not (part.startswith("nerkit ") or " -m nerkit." in part):
                    continue  # output shown beside the commands, or another program
                words = shlex.split(part, comments=True)
                if words[:1] == ["nerkit"]:
                    yield token.map[0] + 2 + offset, words[1:]
                elif "-m" in words and words[words.index("-m") + 1:][:1] in (["nerkit.train"], ["nerkit.predict"]):
                    at = words.index("-m")
                    yield token.map[0] + 2 + offset, [words[at + 1].split(".")[1], *words[at + 2:]]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_docs_every_code_fence_is_closed(page):
    lines = page.read_text(encoding="utf-8").splitlines()
    for token in fences(page):
        closing = lines[token.map[1] - 1].strip() if token.map[1] <= len(lines) else ""
        assert token.map[1] - token.map[0] >= 2 and closing.startswith(token.markup) and \
            closing.strip(token.markup[0]) == "", f"{page.name}:{token.map[0] + 1}: code fence never closed"


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_docs_every_nerkit_command_line_parses(page, capsys):
    parser = build_parser()
    found = list(command_lines(page))
    for number, argv in found:
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"{page.name}:{number}: nerkit {shlex.join(argv)}: {capsys.readouterr().err.strip()}")


def test_docs_show_commands_of_every_subcommand():
    commands = {argv[0] for page in PAGES for _, argv in command_lines(page) if argv}
    assert commands >= {"train", "predict", "evaluate", "export", "serve", "push"}


def test_every_subcommand_help_runs(capsys):
    parser = build_parser()
    for name in parser._subparsers._group_actions[0].choices:
        with pytest.raises(SystemExit) as exit:
            parser.parse_args([name, "--help"])
        assert exit.value.code == 0 and f"usage: nerkit {name}" in capsys.readouterr().out


def test_docs_label_studio_example_is_what_nerkit_writes():
    import json

    from nerkit.formats.spans import label_studio_task

    blocks = [t.content for t in fences(ROOT / "docs" / "data.md") if t.info == "json" and '"predictions"' in t.content]
    assert blocks, "the data guide shows a Label Studio task file"
    for task in json.loads(blocks[0]):
        prediction = task["predictions"][0]
        entities = [{**r["value"], "label": r["value"]["labels"][0], "score": r["score"]} for r in prediction["result"]]
        written = label_studio_task({"text": task["data"]["text"], "entities": entities}, prediction["model_version"])
        assert json.dumps(written) == json.dumps(task)  # same keys, same order, same values


def reorderings(parser, argv: list[str]):
    """The same command line with its flags (and their values) moved before, and after, the positionals:
    None where a flag's number of values is not fixed, so the move could change what it means."""
    command, rest = argv[0], argv[1:]
    sub = parser._subparsers._group_actions[0].choices[command]
    flags, positionals, i = [], [], 0
    while i < len(rest):
        word = rest[i]
        if not word.startswith("-") or word == "-":
            positionals.append(word)
            i += 1
            continue
        action = sub._option_string_actions.get(word.split("=", 1)[0])
        if action is None or action.nargs not in (None, 0) and "=" not in word:
            return None
        width = 1 if "=" in word or action.nargs == 0 else 2
        flags.append(rest[i:i + width])
        i += width
    flat = [w for group in flags for w in group]
    return [[command, *flat, *positionals], [command, *positionals, *flat]]


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_docs_every_nerkit_command_line_parses_in_three_orders(page):
    parser = build_parser()
    for number, argv in command_lines(page):
        if not argv or argv[0].startswith("-") or argv[-1] in ("--help", "-h"):
            continue
        as_written = parser.parse_args(argv)
        for other in reorderings(parser, argv) or []:
            assert parser.parse_args(other) == as_written, f"{page.name}:{number}: {shlex.join(other)}"
