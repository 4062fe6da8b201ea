"""How fast does `tuner` open? The cockpit to its first frame against a bare Textual hello-world, interleaved.

    .venv/bin/python bench/ui_startup.py [--pairs 7]

Both run in a real pseudo-terminal of the same size and TERM (bench/ui_pty.py), launched the same way
(`python -m tuner_tui` vs `python bench/bare_app.py`), and both exit right after their first frame (the
cockpit through TUNER_EXIT_ON_FIRST_FRAME=1 -> TunerApp(exit_on_first_frame=True); the bare app by
`call_after_refresh(self.exit)` in on_mount). Measured: process start -> first frame -> exit, wall clock.
The cockpit's home holds a few runs. One more cockpit start goes through bench/modules_probe.py, which
dumps sys.modules at exit: torch and the rest of the ML stack must not be among them.
Last line: {"name", "figures", "goal", "met"}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import pexpect
from ui_pty import COLUMNS, ROWS, TERM, heavy_modules, seed_home, spawn

GOAL_RATIO = 1.3
MARKERS = {"tuner": b"Welcome", "bare": b"Hello, world"}     # proof that the first frame was drawn


def first_frame_s(name: str, env: dict[str, str]) -> float:
    args = ["-m", "tuner_tui"] if name == "tuner" else ["bench/bare_app.py"]
    began = time.perf_counter()
    child = spawn(args, env)
    child.expect(pexpect.EOF)
    child.close()
    took = time.perf_counter() - began
    if child.exitstatus != 0 or MARKERS[name] not in (child.before or b""):
        raise SystemExit(f"{name} did not draw its first frame and exit cleanly (exit {child.exitstatus}):\n"
                         f"{(child.before or b'')[-2000:]!r}")
    return took


def modules_loaded(env: dict[str, str], dump: Path) -> list[str]:
    child = spawn(["bench/modules_probe.py"], {**env, "TUNER_MODULES_DUMP": str(dump)})
    child.expect(pexpect.EOF)
    child.close()
    return heavy_modules(dump)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        seed_home(home)
        env = {"TUNER_HOME": str(home), "TUNER_EXIT_ON_FIRST_FRAME": "1"}
        first_frame_s("bare", env), first_frame_s("tuner", env)          # warm the page cache; not counted
        times: dict[str, list[float]] = {"tuner": [], "bare": []}
        for i in range(args.pairs):                                     # interleaved: A B, B A, A B ...
            for name in ("tuner", "bare")[:: 1 if i % 2 == 0 else -1]:
                times[name].append(first_frame_s(name, env))
                print(f"pair {i} {name}: {times[name][-1] * 1000:.0f} ms", flush=True)
        heavy = modules_loaded(env, Path(tmp) / "modules.json")
    tuner_ms, bare_ms = (statistics.median(times[n]) * 1000 for n in ("tuner", "bare"))
    ratio = tuner_ms / bare_ms
    figures = {"pairs": args.pairs, "terminal": f"{TERM} {COLUMNS}x{ROWS} (pty)", "runs_in_home": 5,
               "tuner_ms_median": round(tuner_ms), "bare_ms_median": round(bare_ms), "ratio": round(ratio, 3),
               "tuner_ms": [round(t * 1000) for t in times["tuner"]],
               "bare_ms": [round(t * 1000) for t in times["bare"]],
               "heavy_modules_imported": heavy, "torch_imported": "torch" in heavy}
    print(json.dumps({"name": "ui_startup", "figures": figures,
                      "goal": f"tuner <= {GOAL_RATIO}x bare Textual app to first frame; no torch",
                      "met": ratio <= GOAL_RATIO and not heavy}))


if __name__ == "__main__":
    main()
