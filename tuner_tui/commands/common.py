"""What every command shares: problem printing, JSON output and the no-traceback guarantee."""

from __future__ import annotations

import json
import sys
import time
import traceback
from collections.abc import Callable, Iterable

from rich.console import Console, ConsoleOptions, RenderableType, RenderHook, RenderResult
from rich.control import Control
from rich.measure import Measurement
from rich.segment import Segment

from tuner_tui.domain.problems import Problem, ProblemsFound
from tuner_tui.domain.terminal_text import printable
from tuner_tui.runtime.home import Home


class _Printable:
    """A renderable whose text reaches the terminal without control characters: Rich's own codes (styles,
    cursor moves) are in segment styles and control segments, so only the text is cleaned."""

    def __init__(self, inner: RenderableType) -> None:
        self.inner = inner

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for segment in console.render(self.inner, options):
            yield segment if segment.control else Segment(printable(segment.text), segment.style)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.inner)


class _NoTerminalControl(RenderHook):
    """Every print through `out`/`err`: names, tags, notes, log lines and messages can hold ESC sequences."""

    def process_renderables(self, renderables: list) -> list:
        return [r if isinstance(r, Control) else _Printable(r) for r in renderables]


def _console(**options) -> Console:
    """Markup is off by default: user and file text ('[/x]') is never parsed as markup. A print whose text is
    all ours says `markup=True`, with any user part in `rich.markup.escape`."""
    console = Console(highlight=False, soft_wrap=True, markup=False, **options)
    console.push_render_hook(_NoTerminalControl())
    return console


out = _console()
err = _console(stderr=True)


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
