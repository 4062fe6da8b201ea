"""What does tuner's tracking cost? Tokens/s of the training loop under `tuner run` against the same
SFTTrainer script without tuner (same model, data, SFTConfig), runs interleaved so drift hits both alike.

    .venv/bin/python bench/tracking_overhead.py [--model tiny-random-llama] [--steps 150] [--pairs 3]

Both sides report the Trainer's own token count over its own train_runtime (training loop only, no loading). The tiny model
is the harshest case: its steps are so short that any per-step cost of the callback and writer shows.
Last line: {"name", "figures", "goal", "met"}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

BARE = r'''
import json, sys
from pathlib import Path
from trl import SFTTrainer
from tuner_tui.domain.recipe_loader import load_recipe
from tuner_tui.runtime.home import Home
from tuner_tui.training import data as training_data
from tuner_tui.training.loading import choose_precision, load_model, load_tokenizer
from tuner_tui.training.model_sources import materialize
from tuner_tui.training.session import sft_config

loaded = load_recipe(sys.argv[1])
recipe = loaded.recipe
precision = choose_precision(recipe)
path = materialize(recipe.model.source, Home.default())
tokenizer = load_tokenizer(path, recipe)
data = training_data.build(recipe, loaded.base_dir, tokenizer, path, Home.default().models_dir)
model = load_model(path, recipe, precision)
config = sft_config(recipe, precision, Path(sys.argv[2]), data.eval is not None)
trainer = SFTTrainer(model=model, args=config, train_dataset=data.train, eval_dataset=data.eval,
                     processing_class=tokenizer)
print(json.dumps(trainer.train().metrics))
'''


def write_recipe(folder: Path, model: str, steps: int) -> Path:
    recipe = {
        "name": "overhead", "model": {"source": model},
        "method": {"kind": "lora", "lora": {"r": 16, "alpha": 32, "target_modules": "all-linear"}},
        "data": {"path": str(REPO / "recipes/data/demo.jsonl"), "format": "alpaca", "val_split": 0.0,
                 "max_length": 128},
        "train": {"max_steps": steps, "batch_size": 8, "grad_accum": 1, "logging_steps": 5, "save": "no",
                  "learning_rate": 1e-3},
    }
    path = folder / "overhead.yaml"
    path.write_text(yaml.safe_dump(recipe))
    return path


def tuner_run(recipe: Path, env: dict) -> float:
    out = subprocess.run([sys.executable, "-m", "tuner_tui", "run", str(recipe), "--json"], env=env, cwd=REPO,
                         capture_output=True, text=True, check=True)
    record = json.loads(out.stdout.strip().splitlines()[-1])
    return float(record["final"]["train_tokens_per_s"])


def bare_run(recipe: Path, env: dict, out_dir: Path) -> float:
    out = subprocess.run([sys.executable, "-c", BARE, str(recipe), str(out_dir)], env=env, cwd=REPO,
                         capture_output=True, text=True, check=True)
    metrics = json.loads(out.stdout.strip().splitlines()[-1])
    return metrics["num_input_tokens_seen"] / metrics["train_runtime"]     # same formula as tuner's summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="tiny-random-llama")
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        env = {**os.environ, "TUNER_HOME": str(folder / "home"), "HF_HUB_OFFLINE": "1",
               "TOKENIZERS_PARALLELISM": "false", "PYTHONUNBUFFERED": "1"}   # what the launcher gives a worker
        recipe = write_recipe(folder, args.model, args.steps)
        bare_run(recipe, env, folder / "warmup")              # builds/caches the model; not counted
        tuner_rates, bare_rates = [], []
        for i in range(args.pairs):                          # interleaved: A B, B A, A B ...
            order = [("tuner", tuner_run), ("bare", bare_run)][:: 1 if i % 2 == 0 else -1]
            for name, fn in order:
                rate = fn(recipe, env) if name == "tuner" else fn(recipe, env, folder / f"bare{i}")
                (tuner_rates if name == "tuner" else bare_rates).append(rate)
                print(f"pair {i} {name}: {rate:,.0f} tokens/s", flush=True)
    ratio = statistics.median(tuner_rates) / statistics.median(bare_rates)
    figures = {"model": args.model, "steps": args.steps, "pairs": args.pairs,
               "tuner_tokens_per_s": [round(r, 1) for r in tuner_rates],
               "bare_tokens_per_s": [round(r, 1) for r in bare_rates], "ratio_median": round(ratio, 3)}
    print(json.dumps({"name": "tracking_overhead", "figures": figures, "goal": "ratio >= 0.98",
                      "met": ratio >= 0.98}))


if __name__ == "__main__":
    main()
