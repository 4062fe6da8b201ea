"""`tuner` (the cockpit) and `tuner serve` (the same app in a browser through textual-serve)."""

from __future__ import annotations

import argparse
import gc
import os
import shlex
import sys

from tuner_tui.commands.common import err, out

LOOPBACK = ("127.0.0.1", "localhost", "::1")


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
        running = app.run() or []
    finally:
        gc.enable()                                   # whatever happened before the first frame
    if running:
        out.print(f"{len(running)} run(s) go on in the background: {', '.join(running)}. "
                  "`tuner` re-attaches; `tuner logs -f RUN` follows one; `tuner stop RUN` stops one.")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from textual_serve.server import Server

    if args.host not in LOOPBACK:
        err.print(f"[bold yellow]warning:[/] serving on {escape(args.host)}: anyone who can reach port {args.port} "
                  "can launch, stop and delete runs on this machine. Prefer the default 127.0.0.1 and an SSH "
                  "tunnel (ssh -L 8000:127.0.0.1:8000 HOST).", markup=True)
    command = " ".join(shlex.quote(p) for p in (sys.executable, "-m", "tuner_tui", "cockpit"))
    out.print(f"serving the cockpit on http://{args.host}:{args.port} (Ctrl-C stops serving; runs go on)")
    Server(command, host=args.host, port=args.port, title="tuner").serve()
    return 0
