"""The one prepared GPU check: QLoRA vs LoRA vs full on a locally built ~1B Llama (no download), through the
real `tuner run` path, with the runtime GPU sampler (the code behind `tuner gpu`) following the worker's GPU
memory, torch's peak and reserved memory and the worker's own NVML figure from the event log, and tokens/s of
LoRA against a bare TRL baseline.

    python bench/gpu_check.py            # on a GPU box (H200: a few minutes)
    python bench/gpu_check.py --cpu      # reduced mode: tiny model, few steps; NVML figures are None with the
                                         # reason (what the tests run: the sampler path still runs)

Last line: {"name", "figures", "goal", "met"}. Copy the figures into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from tracking_overhead import bare_run  # noqa: E402  (same bare-TRL baseline as the overhead bench)

from tuner_tui.domain.vram_timeline import phase_peaks  # noqa: E402

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


class RunMemory:
    """GPU memory while a method runs, every 100 ms, through tuner's own sampler: used memory of the GPUs this
    process sees, and of the processes the sampler labels as a tuner run's (the worker and its ranks); peaks
    kept, and the cost of each sample."""

    def __init__(self) -> None:
        from tuner_tui.runtime.gpu import GpuReport, GpuSampler

        self.peak_device = self.peak_process = 0
        self.samples, self.cost_s = 0, 0.0
        self.reason: str | None = None
        outer = self

        class TimedSampler(GpuSampler):
            def sample(self) -> GpuReport:
                started = time.perf_counter()
                report = super().sample()
                outer.cost_s += time.perf_counter() - started
                return report

        self.sampler = TimedSampler(interval=0.1, on_sample=self._on_sample, worker_refresh_s=0.5)

    def _on_sample(self, report) -> None:
        self.samples += 1
        self.reason = report.reason
        visible = [g for g in report.gpus if g.visible_index is not None]
        self.peak_device = max(self.peak_device, sum(g.memory_used or 0 for g in visible))
        self.peak_process = max(self.peak_process, sum(p.used_memory or 0 for g in report.gpus
                                                       for p in g.processes if p.run_id))

    def figures(self) -> dict:
        if self.reason:
            return {"nvml": self.reason}
        return {"nvml_device_peak_gib": round(self.peak_device / GIB, 3),
                "nvml_process_peak_gib": round(self.peak_process / GIB, 3),
                "nvml_sample_ms": round(1000 * self.cost_s / max(self.samples, 1), 3)}


def _peak_gib(events: list[dict], key: str) -> float | None:
    values = [e[key] for e in events if isinstance(e.get(key), (int, float))]
    return round(max(values) / GIB, 3) if values else None


def run_method(kind: str, model: str, steps: int, max_length: int, folder: Path, env: dict) -> dict:
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
    memory_sampler = RunMemory()
    with memory_sampler.sampler:
        out = subprocess.run([sys.executable, "-m", "tuner_tui", "run", str(path), "--json"], env=env, cwd=REPO,
                             capture_output=True, text=True)
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
              if memory else None,
              # what torch keeps cached vs what NVML says the worker holds (cache + CUDA context + non-torch)
              "torch_reserved_peak_gib": _peak_gib(memory, "reserved"),
              "worker_nvml_process_peak_gib": _peak_gib(memory, "nvml_process_bytes"),
              "phase_peak_gib": {phase: round(peak / GIB, 3) for phase, peak in phase_peaks(memory).items()},
              **memory_sampler.figures()}
    if result.get("nvml_process_peak_gib") is not None and result["torch_reserved_peak_gib"] is not None:
        result["nvml_minus_reserved_gib"] = round(result["nvml_process_peak_gib"] - result["torch_reserved_peak_gib"],
                                                  3)
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
            figures[kind] = run_method(kind, model, steps, max_length, folder, env)
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
