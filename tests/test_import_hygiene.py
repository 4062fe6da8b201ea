"""Layers you can see: the CLI's listing commands never pay for torch (10-20 s), domain stays pure."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

HEAVY = {"torch", "transformers", "peft", "trl", "bitsandbytes", "datasets"}


def loaded_modules(code: str, home) -> set[str]:
    """Top-level modules loaded after running `code` in a fresh interpreter."""
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    env = {**os.environ, "TUNER_HOME": str(home)}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, env=env)
    return {m.split(".")[0] for m in json.loads(out.stdout.strip().splitlines()[-1])}


def test_domain_imports_no_textual_no_torch(tmp_path):
    mods = loaded_modules("import tuner_tui.domain.recipe_loader, tuner_tui.domain.dataset_rows, "
                          "tuner_tui.domain.events, tuner_tui.domain.watch, tuner_tui.domain.model_sources, "
                          "tuner_tui.domain.vram_timeline, tuner_tui.domain.architectures, "
                          "tuner_tui.domain.vram_estimate", tmp_path)
    assert not mods & {"textual", "torch", "transformers", "pynvml", "rich"}


def test_runtime_imports_no_torch(tmp_path):
    mods = loaded_modules("import tuner_tui.runtime.launcher, tuner_tui.runtime.store, "
                          "tuner_tui.runtime.preflight, tuner_tui.runtime.gpu", tmp_path)
    assert not mods & HEAVY


def test_the_gpu_sampler_imports_pynvml_only_when_it_samples(tmp_path):
    assert "pynvml" not in loaded_modules("import tuner_tui.runtime.gpu, tuner_tui.commands.gpu", tmp_path)
    mods = loaded_modules("from tuner_tui.runtime.gpu import read_gpus\nread_gpus()", tmp_path)
    assert "pynvml" in mods and not mods & HEAVY and "textual" not in mods


@pytest.mark.parametrize("argv", [["--help"], ["recipes"], ["validate", "smoke"], ["schema"], ["ls"],
                                  ["gpu", "--once"], ["estimate", "smoke"],
                                  ["data", "smoke"], ["data", "smoke", "--json"]])
def test_listing_commands_import_no_ml_stack(argv, tmp_path):
    code = (f"import sys\nsys.argv = ['tuner', *{argv!r}]\nfrom tuner_tui.cli import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass")
    mods = loaded_modules(code, tmp_path)
    assert not mods & HEAVY, mods & HEAVY


def test_the_cockpit_imports_no_ml_stack_and_no_training_code(tmp_path):
    mods = loaded_modules("import tuner_tui.ui.app", tmp_path)
    assert "textual" in mods and not mods & HEAVY and "pynvml" not in mods


def test_the_cockpit_defers_charts_store_and_schema_until_after_the_first_frame(tmp_path):
    """Start-up cost: plotext (~0.3 s), pydantic (~0.2 s) and the TinyDB store are not imported by the app
    module; they load in worker threads after the first frame, or when a dashboard first opens."""
    mods = loaded_modules("import tuner_tui.ui.app", tmp_path)
    assert not mods & {"plotext", "textual_plotext", "pydantic", "tinydb"}, mods & {"plotext", "pydantic", "tinydb"}


def test_ui_never_imports_training(tmp_path):
    code = ("import sys, tuner_tui.ui.app, tuner_tui.ui.run_dashboard, tuner_tui.ui.compare_view, "
            "tuner_tui.ui.try_view, tuner_tui.ui.preflight_screen\n"
            "assert not [m for m in sys.modules if m.startswith('tuner_tui.training')], 'training imported'")
    mods = loaded_modules(code, tmp_path)
    assert not mods & HEAVY


def test_layer_contracts_hold():
    """The arrows of docs/architecture.md as import-linter contracts (pyproject.toml [tool.importlinter]): lazy
    imports inside functions count, which the run-time probes above cannot see."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    assert lint_imports.is_file(), f"{lint_imports} is missing: pip install -e '.[dev]' (import-linter)"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([str(lint_imports)], capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout
