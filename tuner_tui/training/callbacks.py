"""The TrainerCallback that turns training into events (log, memory, checkpoint, warning) and obeys stop.

Everything here runs inside the training loop, so it only puts events on the writer's queue: no disk, no
store, no network. Costs per log: one psutil or torch.cuda memory query."""

from __future__ import annotations

import errno
import math
import os
import threading
import time

import psutil
import torch
from transformers import TrainerCallback

from tuner_tui.domain.watch import LossWatch
from tuner_tui.training.failures import NanLoss

LOG_KEYS = ("loss", "learning_rate", "grad_norm", "eval_loss")
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
    if torch.cuda.is_available():
        return {"device": "cuda", "allocated": torch.cuda.memory_allocated(),
                "reserved": torch.cuda.memory_reserved(), "peak": torch.cuda.max_memory_allocated()}
    return {"device": "cpu", "rss": psutil.Process().memory_info().rss}


class ReportingCallback(TrainerCallback):
    def __init__(self, writer, stop_requested: threading.Event, watch: LossWatch):
        self.writer, self.stop_requested, self.watch = writer, stop_requested, watch
        self.stopping = False
        self.peak_memory = 0
        self.last_train_loss: float | None = None
        self.best_eval_loss: float | None = None
        self._tokens_at, self._time_at = 0, time.monotonic()

    def on_train_begin(self, args, state, control, **kwargs):
        self._tokens_at, self._time_at = state.num_input_tokens_seen, time.monotonic()
        self.writer.emit("phase", phase="training", total_steps=state.max_steps)

    def on_step_end(self, args, state, control, **kwargs):
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
            if self.best_eval_loss is None or eval_loss < self.best_eval_loss:
                self.best_eval_loss = eval_loss
            self._warn(self.watch.on_eval_loss(state.global_step, eval_loss), "overfitting")
        self.writer.emit("log", **event)
        memory = memory_fields()
        self.peak_memory = max(self.peak_memory, memory.get("peak", memory.get("rss", 0)))
        self.writer.emit("memory", step=state.global_step, **memory)

    def on_save(self, args, state, control, **kwargs):
        path = f"{args.output_dir}/checkpoint-{state.global_step}"
        self.writer.emit("checkpoint", step=state.global_step, path=path)
        self.writer.emit("phase", phase="training")
        self.writer.sync()

    def _warn(self, message: str | None, kind: str) -> None:
        if message:
            self.writer.emit("warning", kind=kind, message=message)
