"""The `tuner` command line. Parsing only: each command lives in tuner_tui/commands/ and is imported when run,
so `tuner --help`, `tuner recipes` and `tuner validate` never pay for torch/transformers (10-20 s)."""

from __future__ import annotations

import argparse
import importlib
import sys

from tuner_tui import __version__

EPILOG = "RUN accepts a unique prefix of a run id. Exit codes: 0 ok, 1 failed, 2 usage."


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--detach", action="store_true", help="start the worker and return at once")
    p.add_argument("--json", action="store_true", help="print JSON: the run id first, the final record last")


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


def _force_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true", help="launch even when pre-flight says it will not fit in "
                   "the GPU's free memory")


def build_parser() -> argparse.ArgumentParser:
    from tuner_tui.domain.methods import KINDS
    from tuner_tui.domain.run_query import SORT_FIELDS

    parser = argparse.ArgumentParser(prog="tuner", description="Fine-tune LLMs from the terminal: recipes, "
                                     "runs that survive disconnects, history.", epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"tuner {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("recipes", help="list built-in and your recipes")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("validate", help="check recipe files; exit 1 when any is invalid")
    p.add_argument("paths", nargs="+", metavar="PATH", help="recipe files or built-in names")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe key before checking (repeatable)")
    p.add_argument("--json", action="store_true", help="print the results as one JSON document")

    sub.add_parser("schema", help="print the recipe JSON Schema (for editors)")

    p = sub.add_parser("run", help="launch a fine-tuning run from a recipe")
    p.add_argument("recipe", metavar="RECIPE", help="a built-in recipe name, one of yours, or a path")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe key, e.g. --set train.learning_rate=1e-4 (repeatable)")
    p.add_argument("--name", help="a name for the run (default: the recipe's)")
    _run_options(p)
    _force_option(p)

    p = sub.add_parser("resume", help="continue a stopped, failed or crashed run from its last checkpoint")
    p.add_argument("run", metavar="RUN")
    _run_options(p)

    p = sub.add_parser("stop", help="stop a run: it saves a checkpoint at the end of the step")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("logs", help="the run's events, for people")
    p.add_argument("run", metavar="RUN")
    p.add_argument("-f", "--follow", action="store_true", help="follow until the run ends (Ctrl-C to stop "
                   "following; the run goes on)")
    p.add_argument("--json", action="store_true", help="print the raw events as a JSON list")

    p = sub.add_parser("relaunch", help="a new run from a run's recipe, with edits (the child records the parent)")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--edit", action="store_true", help="edit the recipe in $EDITOR first (validated on save)")
    p.add_argument("--name", help="a name for the new run")
    _run_options(p)
    _force_option(p)

    p = sub.add_parser("ls", help="list runs")
    p.add_argument("--status", choices=["queued", "running", "finished", "stopped", "failed", "crashed"])
    p.add_argument("--method", choices=KINDS)
    p.add_argument("--model", help="substring of the model source")
    p.add_argument("--tag", help="only runs with this tag")
    p.add_argument("--search", metavar="TEXT", help="words matched in id, name, model, tags and notes")
    p.add_argument("--sort", default="created", metavar="FIELD", choices=SORT_FIELDS,
                   help="one of " + ", ".join(SORT_FIELDS) + " (times: newest first)")
    p.add_argument("--limit", type=int, metavar="N", help="at most N runs")
    p.add_argument("--json", action="store_true", help="print the runs as one JSON list")

    p = sub.add_parser("show", help="one run's record, recipe, lineage and last events")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("compare", help="recipe differences, final figures and loss at matching steps (one run: against its parent)")
    p.add_argument("runs", nargs="+", metavar="RUN")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("tag", help="add a tag to a run")
    p.add_argument("run", metavar="RUN")
    p.add_argument("tag")

    p = sub.add_parser("note", help="set a run's note")
    p.add_argument("run", metavar="RUN")
    p.add_argument("text")

    p = sub.add_parser("rm", help="remove a run from the index (--files: and its directory)")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--files", action="store_true")
    p.add_argument("--force", action="store_true", help="stop it first if it is running")

    p = sub.add_parser("export", help="a run's metric series as csv or jsonl on stdout")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--format", choices=["csv", "jsonl"], default="csv")

    p = sub.add_parser("estimate", help="peak GPU memory for full, LoRA and QLoRA; fit against the GPU")
    p.add_argument("recipe", metavar="RECIPE", help="a built-in recipe name, one of yours, or a path")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe key first, e.g. --set train.batch_size=2 (repeatable)")
    p.add_argument("--json", action="store_true", help="print the estimate as one JSON document")

    p = sub.add_parser("data", help="what the model reads and learns from each row, token by token (the loss-mask "
                                    "X-ray), and the data audit; exit 1 when pre-flight would refuse the data",
                       epilog="Without colour (piped, NO_COLOR) trained text is shown in [[double brackets]].")
    p.add_argument("recipe", metavar="RECIPE", help="a built-in recipe name, one of yours, or a path")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe key first, e.g. --set data.max_length=1024 (repeatable)")
    p.add_argument("--row", dest="rows", action="append", type=int, default=[], metavar="N",
                   help="show row N, numbered from 1 in file order (repeatable; default: the first 3)")
    p.add_argument("--json", action="store_true", help="print the rows and the audit as one JSON document")

    p = sub.add_parser("merge", help="merge a run's adapter into the base model (writes merged/)")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("try", help="answer a prompt with the base and the tuned model side by side")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--prompt", required=True)
    p.add_argument("--system", help="a system prompt (default: the one most training rows had, if most had one)")
    p.add_argument("--tools", metavar="FILE", help="a JSON file with a list of tool schemas, passed as tools= "
                   "(default: the tools most training rows had)")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("gpu", help="GPUs, their processes (tuner runs by id), host CPU/RAM; live until Ctrl-C")
    p.add_argument("--once", action="store_true", help="print one snapshot and exit")
    p.add_argument("--json", action="store_true", help="print one snapshot as one JSON document")
    p.add_argument("--interval", type=_positive_seconds, default=1.0, metavar="S",
                   help="seconds between samples (default 1)")

    p = sub.add_parser("cockpit", help="the cockpit (what `tuner` alone opens)")
    p.add_argument("recipe", nargs="?", metavar="RECIPE", help="the recipe to select (default: demo)")

    p = sub.add_parser("serve", help="the cockpit in a browser (textual-serve), on 127.0.0.1 by default, behind a "
                                     "secret printed in its URL once per start",
                       epilog="TUNER_SERVE_TOKEN (16+ URL-safe characters) sets the secret instead, for scripts.")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: loopback only)")
    p.add_argument("--port", type=int, default=8000)
    return parser


COMMANDS = {
    "recipes": "tuner_tui.commands.recipes:cmd_recipes",
    "validate": "tuner_tui.commands.recipes:cmd_validate",
    "schema": "tuner_tui.commands.recipes:cmd_schema",
    "run": "tuner_tui.commands.runs:cmd_run",
    "resume": "tuner_tui.commands.runs:cmd_resume",
    "stop": "tuner_tui.commands.runs:cmd_stop",
    "logs": "tuner_tui.commands.runs:cmd_logs",
    "relaunch": "tuner_tui.commands.runs:cmd_relaunch",
    "ls": "tuner_tui.commands.history:cmd_ls",
    "show": "tuner_tui.commands.history:cmd_show",
    "compare": "tuner_tui.commands.history:cmd_compare",
    "tag": "tuner_tui.commands.history:cmd_tag",
    "note": "tuner_tui.commands.history:cmd_note",
    "rm": "tuner_tui.commands.history:cmd_rm",
    "export": "tuner_tui.commands.history:cmd_export",
    "estimate": "tuner_tui.commands.estimate:cmd_estimate",
    "data": "tuner_tui.commands.data:cmd_data",
    "merge": "tuner_tui.commands.outputs:cmd_merge",
    "try": "tuner_tui.commands.outputs:cmd_try",
    "gpu": "tuner_tui.commands.gpu:cmd_gpu",
    "cockpit": "tuner_tui.commands.cockpit:cmd_cockpit",
    "serve": "tuner_tui.commands.serve:cmd_serve",
}


def main(argv: list[str] | None = None) -> int:
    if not (sys.argv[1:] if argv is None else argv):
        # `tuner` alone opens the cockpit: skip building ~25 subparsers (start-up is measured against a bare
        # Textual app, bench/ui_startup.py).
        from tuner_tui.commands.cockpit import cmd_cockpit
        from tuner_tui.commands.common import guarded

        return guarded(lambda: cmd_cockpit(argparse.Namespace(command="cockpit", recipe=None)))
    args = build_parser().parse_args(argv)
    if args.command is None:
        args.command = "cockpit"          # `tuner` alone opens the cockpit (help when not in a terminal)
    module_name, func_name = COMMANDS[args.command].split(":")
    from tuner_tui.commands.common import guarded

    return guarded(lambda: getattr(importlib.import_module(module_name), func_name)(args))


if __name__ == "__main__":
    sys.exit(main())
