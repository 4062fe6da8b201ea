"""What the cockpit does to recipes, below the UI (the UI never writes files itself); what it does to runs is
runtime/run_service.py, shared with the CLI. Saving a recipe somewhere new keeps its relative data/model paths
pointing at the same files."""

from __future__ import annotations

import sys
from pathlib import Path

from tuner_tui.domain.dataset_rows import local_path
from tuner_tui.domain.model_sources import source_kind
from tuner_tui.domain.recipe_loader import LoadedRecipe, load_recipe_text
from tuner_tui.domain.yaml_source import parse
from tuner_tui.runtime.store import write_atomic


def check(text: str, path: Path | None, shown_as: str | None = None) -> LoadedRecipe:
    """Validate editor text as if it were saved at `path` (relative paths resolve from there); problems
    name `shown_as` when given (a re-launch draft is not the parent's recipe.yaml, though it resolves there)."""
    return load_recipe_text(text, filename=shown_as or str(path or "<new recipe>"), path=path)


def relocate(text: str, old_base: Path, new_base: Path) -> tuple[str, list[str]]:
    """Rewrite relative data.path / model.source that would break when the file moves to new_base.

    Only the value on its own line is replaced (comments and layout stay); returns the notes to show."""
    doc = parse(text, "<recipe>")
    if not isinstance(doc.data, dict) or old_base.resolve() == new_base.resolve():
        return text, []
    lines, notes = text.split("\n"), []
    for section, key in (("data", "path"), ("model", "source")):
        value = (doc.data.get(section) or {}).get(key) if isinstance(doc.data.get(section), dict) else None
        if not isinstance(value, str) or Path(value).expanduser().is_absolute():
            continue
        if section == "model" and source_kind(value, old_base) != "local":
            continue
        old, new = local_path(value, old_base), local_path(value, new_base)
        position = doc.values.get((section, key))
        if not old.exists() or new.exists() or position is None:
            continue
        line_no = position[0] - 1
        lines[line_no] = lines[line_no].replace(value, str(old.resolve()), 1)
        notes.append(f"{section}.{key} now points at {old.resolve()} (it was relative to {old_base})")
    return "\n".join(lines), notes


def renamed(text: str, name: str) -> str:
    """The recipe text with its top-level `name:` set to `name` (that line only; comments stay)."""
    doc = parse(text, "<recipe>")
    position = doc.values.get(("name",)) if isinstance(doc.data, dict) else None
    old = doc.data.get("name") if isinstance(doc.data, dict) else None
    if position is None or not isinstance(old, str) or old == name:
        return text
    lines = text.split("\n")
    line = lines[position[0] - 1]
    start = position[1] - 1
    lines[position[0] - 1] = line[:start] + line[start:].replace(old, name, 1)
    return "\n".join(lines)


def save_recipe(text: str, target: Path, old_path: Path | None) -> list[str]:
    """Write the editor text to target atomically; returns notes about rewritten paths."""
    notes: list[str] = []
    if old_path is not None:
        text, notes = relocate(text, old_path.parent, target.parent)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, text)
    return notes


def try_argv(run_id: str, prompt: str) -> list[str]:
    """`tuner try` in its own process: model loading must never block or crash the cockpit."""
    return [sys.executable, "-m", "tuner_tui", "try", run_id, "--prompt", prompt, "--json"]


def merge_argv(run_id: str) -> list[str]:
    return [sys.executable, "-m", "tuner_tui", "merge", run_id, "--json"]
