"""`tuner merge` and `tuner try`: they load models, so they import torch (lazily, here only)."""

from __future__ import annotations

import argparse
import contextlib
import json
from pathlib import Path

from rich.columns import Columns
from rich.panel import Panel
from rich.text import Text

from tuner_tui.commands.common import err, out, print_json
from tuner_tui.domain.methods import method
from tuner_tui.domain.problems import Problem, ProblemsFound
from tuner_tui.domain.recipe_loader import load_recipe
from tuner_tui.domain.run_dir import RunDir
from tuner_tui.runtime.home import Home
from tuner_tui.runtime.run_service import RunService


def _quiet_hf() -> None:
    """Model loading prints progress bars and deprecation noise; this is a command for people."""
    import os
    import warnings

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    warnings.filterwarnings("ignore", category=FutureWarning)
    from transformers.utils import logging

    logging.disable_progress_bar()


def _ended_run(ref: str) -> tuple[dict, Path]:
    record = RunService(Home.default()).resolve(ref)
    paths = RunDir.of(record["run_dir"])
    run_dir = paths.path
    if not paths.adapter.is_dir() and not paths.merged.is_dir():
        raise ProblemsFound([Problem(record["id"], f"the run has no trained weights yet (it is {record['status']})",
                                     hint="only finished runs have adapter/ or merged/")])
    return record, run_dir


def cmd_merge(args: argparse.Namespace) -> int:
    record, run_dir = _ended_run(args.run)
    loaded = load_recipe(RunDir(run_dir).recipe)
    m = method(loaded.recipe.method.kind)
    if not m.mergeable:
        hint = (f"{m.long_label} already saved full weights in merged/" if m.output == "merged"
                else f"{m.long_label} keeps its weights beside the model (adapter/); load it with peft")
        raise ProblemsFound([Problem(record["id"], f"{m.kind} runs have nothing to merge", hint=hint)])
    err.print("merging (loads the base model unquantized)...")
    _quiet_hf()
    from tuner_tui.training.model_sources import materialize
    from tuner_tui.training.outputs import merge_adapter

    target = merge_adapter(run_dir, loaded.recipe, materialize(loaded.recipe.model.source, Home.default()))
    if args.json:
        print_json({"run_id": record["id"], "merged": str(target)})
    else:
        out.print(f"merged model: {target}")
    return 0


def _context(loaded, system: str | None, tools_file: str | None) -> tuple[str | None, list | None]:
    """The system prompt and tools to ask with: the user's, else those most training rows had (a model taught
    with a system prompt and tool schemas is asked the way it was taught)."""
    tools = None
    if tools_file is not None:
        try:
            tools = json.loads(Path(tools_file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise ProblemsFound([Problem(tools_file, f"cannot read the tools: {error}",
                                         hint="a JSON list of tool schemas")]) from None
        if not isinstance(tools, list):
            raise ProblemsFound([Problem(tools_file, "expected a JSON list of tool schemas")])
    if system is not None and tools_file is not None:
        return system, tools
    from tuner_tui.domain.dataset_rows import is_local, prepare_local
    from tuner_tui.domain.training_text import usual_context

    usual: tuple[str | None, list | None] = (None, None)
    spec = loaded.recipe.data
    if is_local(spec.path, loaded.base_dir):
        with contextlib.suppress(ProblemsFound):      # the data moved or changed since: ask without
            usual = usual_context(prepare_local(spec, loaded.base_dir, loaded.recipe.train.seed))
    return (system if system is not None else usual[0]), (tools if tools_file is not None else usual[1])


def cmd_try(args: argparse.Namespace) -> int:
    record, run_dir = _ended_run(args.run)
    loaded = load_recipe(RunDir(run_dir).recipe)
    if not args.json:
        err.print("loading base and tuned models...")
    _quiet_hf()
    from tuner_tui.training.model_sources import materialize
    from tuner_tui.training.outputs import base_and_tuned

    system, tools = _context(loaded, args.system, args.tools)
    base_path = materialize(loaded.recipe.model.source, Home.default())
    answers = base_and_tuned(run_dir, loaded.recipe, base_path, args.prompt, args.max_new_tokens,
                             Home.default().models_dir, loaded.base_dir, system, tools)
    if args.json:
        print_json({"run_id": record["id"], **answers, "system": system, "tools": tools})
        return 0
    out.print(Panel(Text(answers["formatted_prompt"], style="dim", overflow="fold"),
                    title="prompt, as the model reads it"), soft_wrap=False)
    out.print(Columns([Panel(answers["base"], title="base", width=60),
                       Panel(answers["tuned"], title=f"tuned ({record['id']})", width=60)]))
    return 0
