"""History through the CLI: re-launch with edits builds lineage, compare shows what changed, tags, notes,
search, export and rm behave as a user expects."""

from __future__ import annotations

import json

from tests.conftest import json_lines, tuner
from tests.test_engine import write_recipe


def test_relaunch_compare_tag_note_export_rm(home, tmp_path):
    parent = json_lines(tuner("run", str(write_recipe(tmp_path, "lora", steps=6)), "--json", check=True).stdout)[-1]
    proc = tuner("relaunch", parent["id"][:6], "--set", "train.learning_rate=0.001", "--set", "method.lora.r=4",
                 "--json", check=True)
    child = json_lines(proc.stdout)[-1]
    assert child["parent_id"] == parent["id"] and child["status"] == "finished"
    assert child["edits"] == {"method.lora.r": [16, 4], "train.learning_rate": [0.005, 0.001]}

    shown = json.loads(tuner("show", parent["id"], "--json", check=True).stdout)
    assert shown["children"] == [child["id"]] and shown["recipe"]["method"]["lora"]["r"] == 16

    compared = json.loads(tuner("compare", parent["id"], child["id"], "--json", check=True).stdout)
    assert compared["recipe_differences"]["train.learning_rate"] == [0.005, 0.001]
    assert compared["loss_at_steps"] and all(len(v) == 2 for v in compared["loss_at_steps"].values())
    against_parent = json.loads(tuner("compare", child["id"], "--json", check=True).stdout)
    assert against_parent["runs"] == [parent["id"], child["id"]]
    alone = tuner("compare", parent["id"])
    assert alone.returncode == 1 and "not re-launched from another run" in alone.stderr

    tuner("tag", child["id"], "low-lr", check=True)
    tuner("note", child["id"], "smaller rank, calmer curve", check=True)
    tagged = json.loads(tuner("ls", "--tag", "low-lr", "--json", check=True).stdout)
    assert [r["id"] for r in tagged] == [child["id"]]
    found = json.loads(tuner("ls", "--search", "calmer", "--json", check=True).stdout)
    assert [r["id"] for r in found] == [child["id"]]
    assert len(json.loads(tuner("ls", "--json", check=True).stdout)) == 2

    csv_text = tuner("export", parent["id"], "--format", "csv", check=True).stdout
    header, *rows = csv_text.strip().splitlines()
    steps = [row.split(",")[0] for row in rows]                  # one row per step (domain/step_table.py)
    assert header.startswith("step,epoch,t,loss,eval_loss") and len(steps) == len(set(steps)) and "6" in steps

    tuner("rm", child["id"], "--files", check=True)
    assert not (home.runs_dir / child["id"]).exists()
    assert [r["id"] for r in json.loads(tuner("ls", "--json", check=True).stdout)] == [parent["id"]]
