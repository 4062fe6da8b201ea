"""Where recipes come from: built-in ones shipped with the package, the user's in TUNER_HOME/recipes/, or any
path. A bare name resolves to the user's recipe first, so a user can shadow a built-in one by copying it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import tuner_tui
from tuner_tui.domain.problems import Problem, ProblemsFound, did_you_mean
from tuner_tui.domain.recipe_loader import load_recipe
from tuner_tui.runtime.home import Home

RECIPE_SUFFIXES = (".yaml", ".yml")


def builtin_dir() -> Path:
    """Inside an installed wheel the recipes sit in the package; in a checkout, at the top level."""
    package = Path(tuner_tui.__file__).parent
    shipped = package / "builtin_recipes"
    return shipped if shipped.is_dir() else package.parent / "recipes"


@dataclass(frozen=True)
class RecipeEntry:
    name: str
    origin: str               # built-in | yours
    path: str
    method: str | None
    model: str | None
    description: str | None
    valid: bool

    def to_dict(self) -> dict:
        return asdict(self)


def _files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in RECIPE_SUFFIXES and p.is_file())


def list_recipes(home: Home) -> list[RecipeEntry]:
    entries = []
    for origin, folder in (("built-in", builtin_dir()), ("yours", home.recipes_dir)):
        for path in _files(folder):
            try:
                recipe = load_recipe(path).recipe
                entries.append(RecipeEntry(path.stem, origin, str(path), recipe.method.kind,
                                           recipe.model.source, recipe.description, True))
            except ProblemsFound:
                entries.append(RecipeEntry(path.stem, origin, str(path), None, None, None, False))
    return entries


def resolve_recipe(ref: str, home: Home) -> Path:
    """A path, or the name of one of the user's recipes, or a built-in recipe name."""
    candidate = Path(ref).expanduser()
    if candidate.is_file() or candidate.suffix in RECIPE_SUFFIXES or "/" in ref:
        if not candidate.exists():
            raise ProblemsFound([Problem(ref, "no such recipe file")])
        return candidate
    for folder in (home.recipes_dir, builtin_dir()):
        for suffix in RECIPE_SUFFIXES:
            path = folder / f"{ref}{suffix}"
            if path.is_file():
                return path
    names = sorted({p.stem for folder in (home.recipes_dir, builtin_dir()) for p in _files(folder)})
    raise ProblemsFound([Problem(ref, "no recipe by that name", expected="a path or one of " + ", ".join(names),
                                 hint=did_you_mean(ref, names) or "`tuner recipes` lists them")])
