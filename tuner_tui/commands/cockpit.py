"""`tuner`: the cockpit (`tuner serve`, the same app in a browser, is commands/serve.py)."""

from __future__ import annotations

import argparse
import gc
import os
import sys

from tuner_tui.commands.common import err, out


def cmd_cockpit(args: argparse.Namespace) -> int:
    served = "TEXTUAL_DRIVER" in os.environ           # textual-serve runs us over pipes with its web driver
    if not served and not (sys.stdin.isatty() and sys.stdout.isatty()):
        err.print("the cockpit needs a terminal (stdin and stdout are not one); `tuner --help` lists the commands")
        return 2
    # Start-up allocates a few hundred thousand long-lived objects (modules, widgets, styles); the collector
    # would walk them again and again, ~100 ms before the first frame. The app turns it back on right after
    # that frame (TunerApp.resume_gc), with those objects frozen out of later collections.
    gc.disable()
    from tuner_tui.runtime.home import Home
    from tuner_tui.ui.app import TunerApp

    app = TunerApp(Home.default().ensure(), select_recipe=getattr(args, "recipe", None) or "demo",
                   exit_on_first_frame=os.environ.get("TUNER_EXIT_ON_FIRST_FRAME") == "1")   # bench/ui_startup.py
    try:
        running: list[str] = app.run() or []
    finally:
        gc.enable()                                   # whatever happened before the first frame
    if running:
        out.print(f"{len(running)} run(s) go on in the background: {', '.join(running)}. "
                  "`tuner` re-attaches; `tuner logs -f RUN` follows one; `tuner stop RUN` stops one.")
    return 0
