"""What every command shares: problem printing, JSON output and the no-traceback guarantee."""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Callable, Iterable

from rich.console import Console

from tuner_tui.domain.problems import Problem, ProblemsFound
from tuner_tui.runtime.home import Home

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def print_json(document: object) -> None:
    """Exactly one JSON document on stdout (the --json contract)."""
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")
    sys.stdout.flush()


def print_problems(problems: Iterable[Problem]) -> None:
    for problem in problems:
        style = "red" if problem.severity == "error" else "yellow"
        err.print(problem.format(), style=style, markup=False)


def guarded(command: Callable[[], int | None]) -> int:
    """Run a command; user errors become messages, bugs become one line plus a log file, never a traceback."""
    try:
        return command() or 0
    except ProblemsFound as found:
        print_problems(found.problems)
        return 1
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - the last line of defence against tracebacks
        home = Home.default()
        log = home.root / "logs" / "cli-errors.log"
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "a", encoding="utf-8") as fh:
                fh.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} {sys.argv}\n{traceback.format_exc()}\n")
            where = f"; details in {log}"
        except OSError:
            where = ""
        err.print(f"tuner: internal error: {type(exc).__name__}: {exc}{where}", style="red", markup=False)
        err.print("Please report it with that file.")
        return 1
