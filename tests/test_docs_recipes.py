"""Every recipe or recipe fragment the docs show is a recipe nerkit accepts (README.md and docs/*.md)."""

import re

import pytest

from nerkit.config import Recipe, parse_yaml, recipe_from_dict

from conftest import ROOT

SECTIONS = {name for name in Recipe.__dataclass_fields__}
BLOCK = re.compile(r"^```ya?ml\n(.*?)^```", re.MULTILINE | re.DOTALL)


def recipe_blocks():
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            block = parse_yaml(match.group(1), str(path))
            if isinstance(block, dict) and SECTIONS & set(block):  # a recipe or a fragment of one
                line = text.count("\n", 0, match.start()) + 1
                yield pytest.param(block, id=f"{path.name}:{line}")


BLOCKS = list(recipe_blocks())


def test_the_docs_show_recipes():
    assert len(BLOCKS) >= 5


@pytest.mark.parametrize("block", BLOCKS)
def test_every_recipe_block_in_the_docs_validates(block):
    recipe = recipe_from_dict({"model": {"name_or_path": "minilm"}, **block}, "docs")
    assert recipe.model.name_or_path
