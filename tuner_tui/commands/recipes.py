"""`tuner recipes`, `tuner validate`, `tuner schema`: pure recipe work, no torch."""

from __future__ import annotations

import argparse
import json

from rich.table import Table
from rich.text import Text

from tuner_tui.commands.common import out, print_json, print_problems
from tuner_tui.domain.problems import Problem, ProblemsFound
from tuner_tui.domain.recipe import Recipe
from tuner_tui.domain.recipe_loader import load_recipe
from tuner_tui.runtime.home import Home
from tuner_tui.runtime.preflight import preflight
from tuner_tui.runtime.recipe_catalog import list_recipes, resolve_recipe


def cmd_recipes(args: argparse.Namespace) -> int:
    entries = list_recipes(Home.default())
    if args.json:
        print_json([e.to_dict() for e in entries])
        return 0
    wide = out.width >= 120        # at 80 columns the description matters more than the model id
    table = Table(title="Recipes", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("method", no_wrap=True)
    if wide:
        table.add_column("model", no_wrap=True, overflow="ellipsis", max_width=34)
    table.add_column("from", no_wrap=True)
    table.add_column("description", overflow="fold", ratio=1)
    for e in entries:
        model = (e.model or "",) if wide else ()
        table.add_row(e.name, e.method or Text("invalid", style="red"), *model, e.origin,
                      e.description or ("run `tuner validate " + e.path + "`" if not e.valid else ""))
    out.print(table)
    out.print("Run one: [bold]tuner run NAME[/]   Check one: [bold]tuner validate PATH[/]", markup=True)
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    home, results, failed = Home.default(), [], False
    for ref in args.paths:
        try:
            loaded = load_recipe(resolve_recipe(ref, home), args.overrides)
            problems: list[Problem] = preflight(loaded).warnings     # the model source and local data too
            results.append({"path": ref, "valid": True, "problems": [p.to_dict() for p in problems]})
            if not args.json:
                print_problems(problems)
                r = loaded.recipe
                out.print(Text.assemble(("ok", "green"), f" {ref}: {r.name} ({r.method.kind} on {r.model.source})"))
        except ProblemsFound as found:
            failed = True
            results.append({"path": ref, "valid": False, "problems": [p.to_dict() for p in found.problems]})
            if not args.json:
                print_problems(found.problems)
                out.print(Text.assemble(("invalid", "red"), f" {ref}: {len(found.errors)} error(s)"))
    if args.json:
        print_json(results)
    return 1 if failed else 0


def recipe_schema() -> dict:
    schema = Recipe.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "tuner recipe"
    return schema


def cmd_schema(args: argparse.Namespace) -> int:
    print(json.dumps(recipe_schema(), indent=2))
    return 0
