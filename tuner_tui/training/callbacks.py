"""The TrainerCallback that turns training into events (log, memory, checkpoint, warning) and obeys stop.

Everything here runs inside the training loop, so it only puts events on the writer's queue: no disk, no
store, no network. Costs per log: one psutil query (CPU), or torch.cuda's counters plus NVML for this process
(~0.1 ms per GPU).

Memory events carry the phase they close (loading, training, evaluating, saving, merging): one is emitted at
every log and whenever the phase changes, and on CUDA `peak` is the highest allocation since the previous
memory event (the counter is reset after each), so every phase's own peak is visible on the VRAM timeline and
the highest `peak` of all events is the run's peak."""

from __future__ import annotations

import errno
import math
import os
import threading
import time

import psutil
import torch
from transformers import TrainerCallback

from tuner_tui.domain.metrics import TRAINER_KEYS
from tuner_tui.domain.watch import LossWatch
from tuner_tui.runtime.nvml import process_gpu_memory
from tuner_tui.training.event_writer import NullWriter
from tuner_tui.training.failures import NanLoss

LOG_KEYS = TRAINER_KEYS          # the Trainer's log keys we keep: declared in domain/metrics.py
# Test hook: TUNER_TEST_FAULT=oom|disk_full|nan[@STEP] raises the real exception type at that step, so the
# failure paths (classification, events, store, CLI) are exercised end to end where the real cause cannot be
# produced on a CPU test machine. Unset in normal use.
FAULT = os.environ.get("TUNER_TEST_FAULT", "")


def _inject_fault(step: int, logs: dict) -> None:
    kind, _, at = FAULT.partition("@")
    if not kind or step < int(at or 1):
        return
    if kind == "oom":
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (injected by TUNER_TEST_FAULT)")
    if kind == "disk_full":
        raise OSError(errno.ENOSPC, "No space left on device (injected by TUNER_TEST_FAULT)")
    if kind == "nan" and "loss" in logs:
        logs["loss"] = float("nan")


def memory_fields() -> dict:
    """This process's memory now. On CUDA: torch's allocated/reserved, its peak since the previous call (the
    peak counter is reset here), and what NVML says the process holds (`nvml_process_bytes`: torch's cache plus
    the CUDA context, i.e. what other processes cannot use; None when NVML cannot tell). On CPU: RSS only, and
    no NVML call at all."""
    if torch.cuda.is_available():
        fields = {"device": "cuda", "allocated": torch.cuda.memory_allocated(),
                  "reserved": torch.cuda.memory_reserved(), "peak": torch.cuda.max_memory_allocated(),
                  "nvml_process_bytes": process_gpu_memory()}
        torch.cuda.reset_peak_memory_stats()
        return fields
    return {"device": "cpu", "rss": psutil.Process().memory_info().rss}


def checkpointing_active(model) -> bool:
    """Whether the model's layers really recompute activations (what `is_activation_checkpointing` reads), through
    any PEFT wrapper and on any transformers version. The Trainer turns it on in train(), not in __init__."""
    return any(getattr(module, "gradient_checkpointing", False) is True for module in model.modules())


class ReportingCallback(TrainerCallback):
    def __init__(self, writer, stop_requested: threading.Event, watch: LossWatch):
        self.writer, self.stop_requested, self.watch = writer, stop_requested, watch
        self.reports = not isinstance(writer, NullWriter)     # ranks > 0 skip the memory queries
        self.phase = "loading"
        self.stopping = False
        self.peak_memory = 0
        self.last_train_loss: float | None = None
        self.best_eval_loss: float | None = None        # after training began (step > 0)
        self.base_eval_loss: float | None = None        # step 0: the base model, what training is measured against
        self._tokens_at, self._time_at = 0, time.monotonic()

    def on_train_begin(self, args, state, control, **kwargs):
        self._tokens_at, self._time_at = state.num_input_tokens_seen, time.monotonic()
        model = kwargs.get("model")
        checkpointing = {} if model is None else {"gradient_checkpointing": checkpointing_active(model)}
        self.enter_phase("training", state.global_step, total_steps=state.max_steps, **checkpointing)

    def enter_phase(self, phase: str, step: int, **fields) -> None:
        """Close the current phase's memory window with a memory event, then announce the new phase."""
        self.memory_event(step)
        self.phase = phase
        self.writer.emit("phase", phase=phase, **fields)

    def memory_event(self, step: int) -> None:
        """One memory event for the current phase; the run's peak is the highest of them all."""
        if not self.reports:
            return
        memory = memory_fields()
        self.peak_memory = max(self.peak_memory, memory.get("peak") or memory.get("rss") or 0)
        self.writer.emit("memory", step=step, phase=self.phase, **memory)

    def on_substep_end(self, args, state, control, **kwargs):
        self.writer.progress()                  # the heartbeat's "making progress" (no I/O)

    def on_prediction_step(self, args, state, control, **kwargs):
        self.writer.progress()

    def on_step_end(self, args, state, control, **kwargs):
        self.writer.progress()
        if self.stop_requested.is_set() and not self.stopping:
            # Save at the end of this step, then leave the loop: `tuner resume` continues from here.
            self.stopping = True
            control.should_save = True
            control.should_training_stop = True
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        if FAULT:
            _inject_fault(state.global_step, logs)
        fields = {k: logs[k] for k in LOG_KEYS if k in logs}
        if not fields:
            return
        event = {"step": state.global_step, "epoch": round(state.epoch or 0.0, 4), **fields}
        if "loss" in logs:
            loss = float(logs["loss"])
            if not math.isfinite(loss):
                raise NanLoss(f"train loss became {loss} at step {state.global_step}")
            self.last_train_loss = loss
            now, tokens = time.monotonic(), state.num_input_tokens_seen
            if now > self._time_at and tokens > self._tokens_at:
                event["tokens_per_s"] = round((tokens - self._tokens_at) / (now - self._time_at), 1)
            self._tokens_at, self._time_at = tokens, now
            event["tokens"] = tokens
            self._warn(self.watch.on_train_loss(state.global_step, loss), "loss_spike")
        if "eval_loss" in logs:
            eval_loss = float(logs["eval_loss"])
            if state.global_step == 0:
                self.base_eval_loss = eval_loss
            elif self.best_eval_loss is None or eval_loss < self.best_eval_loss:
                self.best_eval_loss = eval_loss
            self._warn(self.watch.on_eval_loss(state.global_step, eval_loss), "overfitting")
        self.writer.emit("log", **event)
        self.memory_event(state.global_step)

    def on_save(self, args, state, control, **kwargs):
        path = f"{args.output_dir}/checkpoint-{state.global_step}"
        self.writer.emit("checkpoint", step=state.global_step, path=path)
        self.enter_phase("training", state.global_step)      # its memory event: the saving phase's peak
        self.writer.sync()

    def _warn(self, message: str | None, kind: str) -> None:
        if message:
            self.writer.emit("warning", kind=kind, message=message)
