"""Run `python -m tuner_tui ARGS...` exactly as -m does (runpy) and, at exit, write the names of the modules the
process loaded to $TUNER_MODULES_DUMP (a JSON list): how the UI benches prove torch never loads in the cockpit.

    TUNER_MODULES_DUMP=/tmp/mods.json .venv/bin/python bench/modules_probe.py [tuner args...]

For finding where the cockpit's time goes (not used by the benches' figures):
    TUNER_PROFILE=/tmp/ui.prof TUNER_PROFILE_AFTER=8   cProfile of the UI thread from 8 s after mount to exit
    TUNER_NO_GPU_SAMPLER=1                             the cockpit without its GPU sampler thread
    TUNER_NO_CHARTS=1                                  dashboards without their four plotext charts drawn
    TUNER_REDRAW_S=10                                  dashboard charts redrawn at most every 10 s (default 5)
"""

from __future__ import annotations

import atexit
import json
import os
import runpy
import sys


def _dump() -> None:
    if os.environ.get("TUNER_MODULES_DUMP"):
        with open(os.environ["TUNER_MODULES_DUMP"], "w", encoding="utf-8") as fh:
            json.dump(sorted(sys.modules), fh)


def _instrument() -> None:
    from tuner_tui.ui.app import TunerApp

    if os.environ.get("TUNER_NO_GPU_SAMPLER") == "1":
        TunerApp.start_sampler = lambda self: None            # type: ignore[method-assign]
    if os.environ.get("TUNER_NO_CHARTS") == "1":
        from tuner_tui.ui.charts import Chart

        Chart.draw = lambda self, *args, **kwargs: None      # type: ignore[method-assign]
    if os.environ.get("TUNER_REDRAW_S"):
        from tuner_tui.ui import run_dashboard

        run_dashboard.CHART_REDRAW_S = float(os.environ["TUNER_REDRAW_S"])
    target = os.environ.get("TUNER_PROFILE")
    if not target:
        return
    import cProfile

    profiler = cProfile.Profile()
    mounted, quitting = TunerApp.on_mount, TunerApp.action_quit

    def on_mount(self) -> None:
        mounted(self)
        self.set_timer(float(os.environ.get("TUNER_PROFILE_AFTER", "8")), lambda: profiler.enable())

    async def action_quit(self) -> None:                      # stop in the UI thread, the one profiled
        profiler.disable()
        profiler.dump_stats(target)
        await quitting(self)

    TunerApp.on_mount = on_mount                              # type: ignore[method-assign]
    TunerApp.action_quit = action_quit                        # type: ignore[method-assign]


if __name__ == "__main__":
    atexit.register(_dump)
    _instrument()
    sys.argv = ["tuner", *sys.argv[1:]]
    runpy.run_module("tuner_tui", run_name="__main__", alter_sys=True)
