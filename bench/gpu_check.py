"""The one prepared GPU check: QLoRA vs LoRA vs full on a locally built ~1B Llama (no download), through the
real `tuner run` path, with NVML sampling of the worker's GPU memory, torch's peak from the event log, and
tokens/s of LoRA against a bare TRL baseline.

    python bench/gpu_check.py            # on a GPU box (H200: a few minutes)
    python bench/gpu_check.py --cpu      # reduced mode: tiny model, few steps, no NVML (what the tests run)

Last line: {"name", "figures", "goal", "met"}. Copy the figures into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from tracking_overhead import bare_run  # noqa: E402  (same bare-TRL baseline as the overhead bench)

GIB = 1024 ** 3


def build_1b_llama(dest: Path) -> None:
    """A TinyLlama-1.1B-shaped random Llama (1.1e9 parameters) with the tiny model's tokenizer."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from tuner_tui.runtime.home import Home
    from tuner_tui.training.model_sources import materialize

    tokenizer = AutoTokenizer.from_pretrained(materialize("tiny-random-llama", Home.default()))
    config = LlamaConfig(vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_hidden_layers=22,
                         num_attention_heads=32, num_key_value_heads=4, max_position_embeddings=2048,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)


class NvmlSampler(threading.Thread):
    """Samples used GPU memory (device and per process) every 100 ms; peak kept."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        import pynvml

        pynvml.nvmlInit()
        self.nvml = pynvml
        self.handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        self.peak_device = self.peak_process = 0
        self.samples = 0
        self.cost_s = 0.0
        self.stop_event = threading.Event()

    def run(self) -> None:
        while not self.stop_event.wait(0.1):
            started = time.perf_counter()
            used = self.nvml.nvmlDeviceGetMemoryInfo(self.handle).used
            procs = self.nvml.nvmlDeviceGetComputeRunningProcesses(self.handle)
            self.cost_s += time.perf_counter() - started
            self.samples += 1
            self.peak_device = max(self.peak_device, used)
            self.peak_process = max(self.peak_process, sum((p.usedGpuMemory or 0) for p in procs))


def run_method(kind: str, model: str, steps: int, max_length: int, folder: Path, env: dict, gpu: bool) -> dict:
    recipe = {
        "name": f"gpu-check-{kind}", "model": {"source": model},
        "method": {"kind": kind},
        "data": {"path": str(REPO / "recipes/data/demo.jsonl"), "format": "alpaca",
                 "val_split": 0.0, "max_length": max_length, "packing": False},
        "train": {"max_steps": steps, "batch_size": 8, "grad_accum": 1, "logging_steps": 5, "save": "no",
                  "learning_rate": 1e-4 if kind != "full" else 1e-5},
    }
    if kind != "full":
        recipe["method"]["lora"] = {"r": 16, "alpha": 32, "target_modules": "all-linear"}
    path = folder / f"{kind}.yaml"
    path.write_text(yaml.safe_dump(recipe))
    sampler = NvmlSampler() if gpu else None
    if sampler:
        sampler.start()
    out = subprocess.run([sys.executable, "-m", "tuner_tui", "run", str(path), "--json"], env=env, cwd=REPO,
                         capture_output=True, text=True)
    if sampler:
        sampler.stop_event.set()
        sampler.join()
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    record = lines[-1] if lines else {"status": "failed", "failure": {"message": out.stderr[-2000:]}}
    events = [json.loads(line) for line in Path(record.get("run_dir", folder)).joinpath("events.jsonl")
              .read_text().splitlines()] if record.get("run_dir") else []
    memory = [e for e in events if e["type"] == "memory"]
    started = next((e for e in events if e["type"] == "started"), {})
    result = {"status": record["status"], "trainable_params": started.get("trainable_params"),
              "quantized_layers": started.get("quantized_layers"),
              "tokens_per_s": (record.get("final") or {}).get("train_tokens_per_s"),
              "torch_peak_gib": round(max((e.get("peak") or e.get("rss") or 0) for e in memory) / GIB, 3)
              if memory else None}
    if sampler:
        result.update(nvml_device_peak_gib=round(sampler.peak_device / GIB, 3),
                      nvml_process_peak_gib=round(sampler.peak_process / GIB, 3),
                      nvml_sample_ms=round(1000 * sampler.cost_s / max(sampler.samples, 1), 3))
    if record["status"] != "finished":
        result["failure"] = record.get("failure")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cpu", action="store_true", help="reduced mode: tiny model, few steps, no NVML")
    parser.add_argument("--steps", type=int, default=None)
    args = parser.parse_args()
    gpu = not args.cpu
    steps = args.steps or (4 if args.cpu else 30)
    max_length = 128 if args.cpu else 512
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        home = Path(os.environ.get("TUNER_HOME") or folder / "home")
        env = {**os.environ, "TUNER_HOME": str(home), "HF_HUB_OFFLINE": "1"}
        os.environ.update(env)
        if args.cpu:
            model = "tiny-random-llama"
        else:
            model = str(home / "models" / "llama-1b-random")
            if not Path(model, "config.json").exists():
                build_1b_llama(Path(model))
        figures: dict = {"mode": "cpu" if args.cpu else "gpu", "model": model, "steps": steps,
                         "max_length": max_length, "batch_size": 8}
        for kind in ("qlora", "lora", "full"):
            figures[kind] = run_method(kind, model, steps, max_length, folder, env, gpu)
            print(kind, json.dumps(figures[kind]), flush=True)
        baseline = Path(folder / "lora.yaml")
        bare = bare_run(baseline, env, folder / "bare")
        tuner_rate = figures["lora"].get("tokens_per_s") or 0
        figures["lora_bare_trl_tokens_per_s"] = round(bare, 1)
        figures["lora_tokens_per_s_ratio"] = round(tuner_rate / bare, 3) if bare else None
    finished = all(figures[k]["status"] == "finished" for k in ("qlora", "lora", "full"))
    ordered = gpu and figures["qlora"]["torch_peak_gib"] < figures["lora"]["torch_peak_gib"] < \
        figures["full"]["torch_peak_gib"]
    met = finished and (ordered or not gpu) and (figures["lora_tokens_per_s_ratio"] or 0) >= 0.95
    print(json.dumps({"name": "gpu_check", "figures": figures,
                      "goal": "all methods finish; peak VRAM qlora < lora < full; tuner tokens/s >= 0.95 x bare TRL",
                      "met": met}))


if __name__ == "__main__":
    main()
