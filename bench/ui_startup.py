"""How fast does `tuner` open? The cockpit to its first frame against a bare Textual hello-world, interleaved.

    .venv/bin/python bench/ui_startup.py [--pairs 15]

Both run in a real pseudo-terminal of the same size and TERM (bench/ui_pty.py), launched the same way
(`python -m tuner_tui` vs `python bench/bare_app.py`), and both exit right after their first frame (the
cockpit through TUNER_EXIT_ON_FIRST_FRAME=1 -> TunerApp(exit_on_first_frame=True); the bare app by
`call_after_refresh(self.exit)` in on_mount). Measured, wall clock: process start -> the first frame's text on
the terminal, and process start -> exit.
The figure compared is the first frame, seen on the terminal (the tab bar's "Welcome", the bare app's "Hello,
world"); start -> exit is reported beside it. The cockpit's home holds a few runs. One more cockpit start goes through bench/modules_probe.py, which
dumps sys.modules at exit: torch and the rest of the ML stack must not be among them.
Last line: {"name", "figures", "goal", "met"}.
"""

from __future__ import annotations

import argparse
import compileall
import json
import statistics
import tempfile
import time
from pathlib import Path

import pexpect
from ui_pty import COLUMNS, REPO, ROWS, TERM, heavy_modules, seed_home, spawn

GOAL_RATIO = 1.3
MARKERS = {"tuner": b"Welcome", "bare": b"Hello, world"}     # proof that the first frame was drawn


def first_frame_s(name: str, env: dict[str, str]) -> tuple[float, float]:
    """(process start -> first frame on the terminal, process start -> exit), in seconds."""
    args = ["-m", "tuner_tui"] if name == "tuner" else ["bench/bare_app.py"]
    began = time.perf_counter()
    child = spawn(args, env)
    try:
        child.expect(MARKERS[name])
    except pexpect.EOF:
        raise SystemExit(f"{name} exited before drawing its first frame:\n{(child.before or b'')[-2000:]!r}") from None
    framed = time.perf_counter() - began
    child.expect(pexpect.EOF)
    child.close()
    exited = time.perf_counter() - began
    if child.exitstatus != 0:
        raise SystemExit(f"{name} did not exit cleanly (exit {child.exitstatus}):\n{(child.before or b'')[-2000:]!r}")
    return framed, exited


def modules_loaded(env: dict[str, str], dump: Path) -> list[str]:
    child = spawn(["bench/modules_probe.py"], {**env, "TUNER_MODULES_DUMP": str(dump)})
    child.expect(pexpect.EOF)
    child.close()
    return heavy_modules(dump)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=15)
    args = parser.parse_args()
    # Textual's modules come with their bytecode, as pip compiles it at install; so would tuner's from a wheel.
    # A source checkout under PYTHONDONTWRITEBYTECODE=1 would recompile ~40 modules on every start instead.
    compileall.compile_dir(REPO / "tuner_tui", quiet=1)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        seed_home(home)
        env = {"TUNER_HOME": str(home), "TUNER_EXIT_ON_FIRST_FRAME": "1"}
        first_frame_s("bare", env), first_frame_s("tuner", env)           # warm the page cache; not counted
        frames: dict[str, list[float]] = {"tuner": [], "bare": []}
        exits: dict[str, list[float]] = {"tuner": [], "bare": []}
        for i in range(args.pairs):                                     # interleaved: A B, B A, A B ...
            for name in ("tuner", "bare")[:: 1 if i % 2 == 0 else -1]:
                framed, exited = first_frame_s(name, env)
                frames[name].append(framed)
                exits[name].append(exited)
                print(f"pair {i} {name}: first frame {framed * 1000:.0f} ms, exit {exited * 1000:.0f} ms", flush=True)
        heavy = modules_loaded(env, Path(tmp) / "modules.json")
    tuner_ms, bare_ms = (statistics.median(frames[n]) * 1000 for n in ("tuner", "bare"))
    # The goal's figure: the median of the per-pair ratios. Each pair runs back to back, so it is robust to this
    # VM's speed drifting by 1.5x over a minute; the ratio of the two medians is reported beside it.
    ratio = statistics.median(t / b for t, b in zip(frames["tuner"], frames["bare"], strict=True))
    exit_ms = {n: statistics.median(exits[n]) * 1000 for n in ("tuner", "bare")}
    figures = {"pairs": args.pairs, "terminal": f"{TERM} {COLUMNS}x{ROWS} (pty)", "runs_in_home": 5,
               "tuner_ms_median": round(tuner_ms), "bare_ms_median": round(bare_ms), "ratio": round(ratio, 3),
               "ratio_of_medians": round(tuner_ms / bare_ms, 3),
               "tuner_ms": [round(t * 1000) for t in frames["tuner"]],
               "bare_ms": [round(t * 1000) for t in frames["bare"]],
               # reported, not the goal: start -> first frame -> exit (includes tearing 25 vs 2 widgets down)
               "to_exit_ms_median": {n: round(v) for n, v in exit_ms.items()},
               "to_exit_ratio": round(exit_ms["tuner"] / exit_ms["bare"], 3),
               "heavy_modules_imported": heavy, "torch_imported": "torch" in heavy}
    print(json.dumps({"name": "ui_startup", "figures": figures,
                      "goal": f"tuner <= {GOAL_RATIO}x bare Textual app to first frame; no torch",
                      "met": ratio <= GOAL_RATIO and not heavy}))


if __name__ == "__main__":
    main()
