"""The wheel carries the built-in recipes (with their data and schema) and the console script."""

from __future__ import annotations

import subprocess
import sys
import zipfile

from tests.conftest import REPO


def test_wheel_ships_builtin_recipes_data_and_the_tuner_script(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(REPO), "--no-deps", "--no-build-isolation",
                    "--quiet", "-w", str(tmp_path)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("tuner_tui-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for recipe in (REPO / "recipes").glob("*.yaml"):
        assert f"tuner_tui/builtin_recipes/{recipe.name}" in names
    assert "tuner_tui/builtin_recipes/data/demo.jsonl" in names
    assert "tuner_tui/builtin_recipes/recipe.schema.json" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "tuner = tuner_tui.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_builtin_recipes_are_found_from_the_checkout():
    from tuner_tui.runtime.recipe_catalog import builtin_dir

    assert (builtin_dir() / "demo.yaml").is_file()
