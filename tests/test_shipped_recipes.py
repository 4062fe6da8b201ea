"""The recipes we ship are valid, say how to run them, and come with an up-to-date JSON Schema whose every
field is documented (editors show those descriptions on hover; error messages quote them)."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from tuner_tui.commands.recipes import recipe_schema
from tuner_tui.domain.problems import ProblemsFound
from tuner_tui.domain.recipe import Recipe
from tuner_tui.domain.recipe_loader import load_recipe

REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "recipes"
SHIPPED = sorted(RECIPES.glob("*.yaml"))
SCHEMA_FILE = RECIPES / "recipe.schema.json"
LOCAL_DATA_SUFFIXES = (".json", ".jsonl", ".csv", ".parquet")


def test_there_are_shipped_recipes():
    assert any(p.stem == "smoke" for p in SHIPPED)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_recipe_validates(path: Path):
    try:
        loaded = load_recipe(path)
    except ProblemsFound as found:
        pytest.fail(f"{path.name} is invalid:\n{found}")
    assert loaded.recipe.name == path.stem, "runs are named after the recipe; keep name and file name equal"
    assert loaded.warnings == [], "a shipped recipe should not carry ignored settings:\n" + "\n".join(
        w.format() for w in loaded.warnings)
    data_path = loaded.recipe.data.path
    if data_path.endswith(LOCAL_DATA_SUFFIXES):
        assert (loaded.base_dir / data_path).is_file(), f"{path.name}: data.path {data_path} does not exist"


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_recipe_opens_with_how_to_run_it(path: Path):
    lines = path.read_text(encoding="utf-8").splitlines()
    header = []
    for line in lines:
        if not line.startswith("#"):
            break
        header.append(line)
    assert header, f"{path.name} does not open with a comment block"
    assert f"tuner run {path.stem}" in "\n".join(header), (
        f"{path.name}'s opening comment does not give the command `tuner run {path.stem}`")


def test_schema_file_is_up_to_date():
    if not SCHEMA_FILE.is_file():
        pytest.fail(f"{SCHEMA_FILE.relative_to(REPO)} is missing: the recipes point editors at it "
                    "(`# yaml-language-server: $schema=./recipe.schema.json`); write it with "
                    "`tuner schema > recipes/recipe.schema.json`")
    on_disk = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    current = json.loads(json.dumps(recipe_schema()))
    assert on_disk == current, "recipes/recipe.schema.json is stale: regenerate it with `tuner schema`"


def _models(annotation: object) -> list[type[BaseModel]]:
    """Pydantic models inside an annotation (X, X | None, list[X], dict[str, X] ...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models(arg)]


def _all_fields() -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    seen: set[type[BaseModel]] = set()

    def walk(model: type[BaseModel], prefix: str) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, info in model.model_fields.items():
            key = f"{prefix}{name}"
            out.append((key, info.description))
            for inner in _models(info.annotation):
                walk(inner, f"{key}.")

    walk(Recipe, "")
    return out


def test_every_field_has_a_description():
    fields = _all_fields()
    # the walk reaches the nested sections, not just the top level
    keys = {key for key, _ in fields}
    assert {"model.source", "method.lora.r", "method.quantization.bits", "method.prefix.num_virtual_tokens",
            "data.val_split", "train.learning_rate", "output.merge", "launch.num_processes"} <= keys
    missing = [key for key, description in fields if not (description or "").strip()]
    assert missing == [], f"fields without a description: {missing}"
