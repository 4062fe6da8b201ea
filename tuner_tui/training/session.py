"""One training session of a run: load, train (or resume), save, optionally merge; returns the terminal event.

Imports the whole HF stack, so only the worker process imports this module."""

from __future__ import annotations

import math
import os
import platform
import shutil
import socket
import threading
import time
from pathlib import Path

import peft
import torch
import transformers
import trl
from transformers import EarlyStoppingCallback, TrainerCallback
from trl import SFTConfig, SFTTrainer

import tuner_tui
from tuner_tui.domain.methods import method
from tuner_tui.domain.recipe import Recipe
from tuner_tui.domain.recipe_loader import LoadedRecipe
from tuner_tui.domain.run_dir import RunDir
from tuner_tui.domain.run_progress import RunProgress
from tuner_tui.domain.runs import attempts_runtime_s
from tuner_tui.domain.token_counts import ChatTemplate
from tuner_tui.domain.watch import LossWatch
from tuner_tui.runtime.event_log import read_events
from tuner_tui.runtime.exit_cause import checkpoint_step, complete_checkpoints, torn_checkpoints
from tuner_tui.runtime.home import Home
from tuner_tui.training import bnb_notice
from tuner_tui.training import data as training_data
from tuner_tui.training.callbacks import ReportingCallback
from tuner_tui.training.hub_access import loading_step, weights_step
from tuner_tui.training.loading import (
    Precision,
    choose_precision,
    count_parameters,
    load_model,
    load_tokenizer,
    quantized_layers,
    trainable_line,
)
from tuner_tui.training.model_sources import materialize


class ReportingTrainer(SFTTrainer):
    """SFTTrainer that tells the event log when it evaluates and saves (phases on the VRAM timeline)."""

    tuner_callback: ReportingCallback | None = None

    def evaluate(self, *args, **kwargs):
        self.tuner_callback.enter_phase("evaluating", self.state.global_step)
        try:
            return super().evaluate(*args, **kwargs)
        finally:
            self.tuner_callback.enter_phase("training", self.state.global_step)   # closes the eval window

    def _save_checkpoint(self, model, trial):
        # The callback's on_save reports the checkpoint and the return to training, in that order.
        self.tuner_callback.enter_phase("saving", self.state.global_step)
        return super()._save_checkpoint(model, trial)


def sft_config(recipe: Recipe, precision: Precision, output_dir: Path, has_eval: bool) -> SFTConfig:
    t = recipe.train
    save, save_steps = t.save, t.save_steps
    early = t.early_stopping_patience is not None and has_eval
    if early:   # the best checkpoint can only be kept if checkpoints line up with evaluations
        save, save_steps = "steps", recipe.eval_steps
    return SFTConfig(
        output_dir=str(output_dir), num_train_epochs=t.epochs, max_steps=t.max_steps,
        per_device_train_batch_size=t.batch_size, per_device_eval_batch_size=t.batch_size,
        gradient_accumulation_steps=t.grad_accum, learning_rate=t.learning_rate, weight_decay=t.weight_decay,
        warmup_steps=t.warmup_ratio, lr_scheduler_type=t.scheduler, optim=t.optimizer,
        logging_steps=t.logging_steps, logging_first_step=True,
        eval_strategy="steps" if has_eval else "no", eval_steps=recipe.eval_steps, eval_on_start=has_eval,
        save_strategy=save, save_steps=save_steps, save_total_limit=t.save_total_limit,
        load_best_model_at_end=early, metric_for_best_model="eval_loss" if early else None,
        greater_is_better=False if early else None,
        bf16=precision.bf16, fp16=precision.fp16, use_cpu=precision.use_cpu,
        # Every method but prefix (Recipe.activation_checkpointing); non-reentrant, as peft and trl recommend: it
        # needs no input grads and works under DDP. trl's SFTConfig defaults to True, so False must be explicit.
        gradient_checkpointing=recipe.activation_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False} if recipe.activation_checkpointing else None,
        seed=t.seed, data_seed=t.seed, report_to=[], disable_tqdm=True,
        max_length=recipe.data.max_length, packing=recipe.data.packing,
        # The rows come tokenized with their labels (training/data.py): trl masks nothing itself.
        completion_only_loss=None,
        include_num_input_tokens_seen="non_padding", dataloader_num_workers=0,
        ddp_find_unused_parameters=False if int(os.environ.get("WORLD_SIZE", "1")) > 1 else None,
    )


class TrainingSession:
    def __init__(self, run_dir: Path, loaded: LoadedRecipe, writer, stop_requested: threading.Event,
                 resume: bool = False):
        self.run_dir, self.loaded, self.writer = run_dir, loaded, writer
        self.recipe = loaded.recipe
        self.stop_requested, self.resume = stop_requested, resume
        self.began = time.monotonic()              # this attempt's runtime: no wall clock (it can step)
        self.train_metrics: dict = {}
        # The attempts before this one (a resume): their runtime adds up, their surviving curve counts.
        self.before = read_events(RunDir(run_dir).events) if resume else []
        self.history = RunProgress()
        self.history.feed(self.before)
        self.saved_template: ChatTemplate | None = None

    def run(self) -> tuple[str, dict]:
        w, recipe = self.writer, self.recipe
        precision = choose_precision(recipe)
        path = materialize(recipe.model.source, Home.default(), self.loaded.base_dir,
                           report=lambda detail: loading_step(w, detail))
        loading_step(w, f"tokenizer of {recipe.model.source}, then the data")
        tokenizer = load_tokenizer(path, recipe)
        data = training_data.build(recipe, self.loaded.base_dir, tokenizer, path, Home.default().models_dir)
        self.saved_template = data.text.renderer.template
        for problem in [*data.prepared.warnings, *data.audit.problems, *data.audit.blocking]:
            w.emit("warning", kind="data", message=problem.message)
        if data.truncated:
            w.emit("warning", kind="truncation", message=f"{data.truncated} of {data.prepared.rows} rows are "
                   f"longer than data.max_length={recipe.data.max_length} tokens and are truncated")
        loading_step(w, weights_step(path, recipe.model.revision))
        model = load_model(path, recipe, precision)
        trainable, total = count_parameters(model)
        print(trainable_line(trainable, total), flush=True)
        quant = recipe.quantization
        if precision.use_cpu and quant is not None and quant.bits == 4 and (note := bnb_notice.cpu_4bit_note()):
            print(note, flush=True)
        checkpoints = self.run_dir / "checkpoints"
        config = sft_config(recipe, precision, checkpoints, data.eval is not None)
        watch = LossWatch()
        callback = ReportingCallback(w, self.stop_requested, watch)
        callbacks: list[TrainerCallback] = [callback]
        patience = recipe.train.early_stopping_patience
        if config.load_best_model_at_end and patience is not None:     # set together (sft_config)
            callbacks.append(EarlyStoppingCallback(early_stopping_patience=patience))
        trainer = ReportingTrainer(model=model, args=config, train_dataset=data.train, eval_dataset=data.eval,
                                   processing_class=tokenizer, callbacks=callbacks)
        trainer.tuner_callback = callback
        resume_from = self._resume_checkpoint() if self.resume else None
        if self.resume:
            from_step = int(resume_from.rsplit("-", 1)[1]) if resume_from else 0
            w.emit("resumed", from_step=from_step, checkpoint=resume_from)
            self.history.feed([{"type": "resumed", "from_step": from_step}])   # later points are superseded
            if resume_from:
                config.eval_on_start = False
        world = int(os.environ.get("WORLD_SIZE", "1"))
        w.emit("started", pid=os.getpid(), host=socket.gethostname(), world_size=world,
               versions=_versions(), devices=_devices(), precision=precision.label,
               trainable_params=trainable, total_params=total, dataset_rows=data.prepared.rows,
               train_rows=len(data.train), eval_rows=len(data.eval) if data.eval is not None else 0,
               dataset_tokens=sum(r.tokens for r in data.audit.rows),
               trained_tokens=sum(r.trained_tokens for r in data.audit.rows), rows_dropped=data.dropped,
               total_steps=_total_steps(recipe, len(trainer.train_dataset), world),  # type: ignore[arg-type]  # map-style: sized
               quantized_layers=quantized_layers(model), trust_remote_code=recipe.model.trust_remote_code,
               # What the Trainer will turn on in train(); the training phase event reads it back from the layers.
               gradient_checkpointing=bool(trainer.args.gradient_checkpointing), model_path=path)
        if self.stop_requested.is_set():
            return "stopped", {"step": 0, "checkpoint": None, "summary": self._summary(trainer, callback)}
        self.train_metrics = trainer.train(resume_from_checkpoint=resume_from).metrics
        if callback.stopping:
            step = trainer.state.global_step
            return "stopped", {"step": step, "checkpoint": str(checkpoints / f"checkpoint-{step}"),
                               "summary": self._summary(trainer, callback)}
        outputs = self._save_outputs(trainer, tokenizer, path, callback)
        return "finished", {"outputs": outputs, "summary": self._summary(trainer, callback)}

    def _resume_checkpoint(self) -> str | None:
        """The last complete checkpoint. A save cut short (kill -9, full disk) leaves a higher-numbered folder
        without a whole trainer_state.json, which transformers' get_last_checkpoint would take and then refuse
        ("Can't find a valid checkpoint"): it is moved aside as torn-checkpoint-N (kept, never resumed from;
        the Trainer may write checkpoint-N again) and said in a warning."""
        paths = RunDir(self.run_dir)
        done = complete_checkpoints(paths)
        last = done[-1] if done else None
        for torn in torn_checkpoints(paths):
            if last is not None and checkpoint_step(torn) < checkpoint_step(last):
                continue                 # an older unfinished save: nothing would pick it
            aside = torn.with_name(f"torn-{torn.name}")
            shutil.rmtree(aside, ignore_errors=True)
            torn.rename(aside)
            self.writer.emit("warning", kind="torn_checkpoint", message=f"{torn.name} was not saved completely "
                             f"(no whole trainer_state.json); resuming from {last.name if last else 'the start'}"
                             f" instead; the partial save is kept as {aside.name} (delete it to free space)")
        return str(last) if last else None

    def _save_outputs(self, trainer, tokenizer, base_path: str, callback: ReportingCallback) -> dict:
        step = trainer.state.global_step
        callback.enter_phase("saving", step)
        m = method(self.recipe.method.kind)
        target = self.run_dir / m.output
        trainer.save_model(str(target))
        if self.saved_template is not None:
            # What training rendered through, so apply_chat_template at serving time renders prompts the same way
            # (merge_adapter copies this tokenizer into merged/).
            tokenizer.chat_template = self.saved_template.template
        tokenizer.save_pretrained(str(target))
        outputs = {target.name: str(target)}
        if self.recipe.output.merge and m.mergeable:
            from tuner_tui.training.outputs import merge_adapter

            callback.enter_phase("merging", step)
            outputs["merged"] = str(merge_adapter(self.run_dir, self.recipe, base_path))
        callback.memory_event(step)          # closes the last window: the run's peak covers saving and merging
        self.writer.sync()
        return outputs

    def _summary(self, trainer, callback: ReportingCallback) -> dict:
        """The run's figures over all its attempts: runtime adds up, the curve is the surviving one (points a
        resume superseded do not count), and step 0's evaluation is the base figure, not the best."""
        state, history = trainer.state, self.history
        segment = round(time.monotonic() - self.began, 1)
        evals = [v for v in (callback.best_eval_loss, history.best_eval()) if v is not None]
        peaks = [callback.peak_memory, *(value for _, value, _ in history.memory)]
        return {"steps": state.global_step, "epoch": round(state.epoch or 0.0, 4),
                "train_loss": callback.last_train_loss if callback.last_train_loss is not None else
                history.last("loss"),
                "best_eval_loss": min(evals) if evals else None,
                "base_eval_loss": callback.base_eval_loss if callback.base_eval_loss is not None else
                history.base_eval(),
                "tokens": state.num_input_tokens_seen,
                "runtime_s": round(attempts_runtime_s(self.before) + segment, 1), "segment_runtime_s": segment,
                "peak_memory": int(max(peaks)) if any(peaks) else None,
                # Trainer's own clock over the training loop only (no loading): what bench/ compares.
                "train_runtime_s": self.train_metrics.get("train_runtime"),
                "train_tokens_per_s": _rate(self.train_metrics)}


def _rate(metrics: dict) -> float | None:
    """Tokens per second of the training loop: the Trainer's token count over its own runtime."""
    runtime, tokens = metrics.get("train_runtime"), metrics.get("num_input_tokens_seen")
    return round(tokens / runtime, 1) if runtime and tokens else None


def _total_steps(recipe: Recipe, train_rows: int, world: int) -> int:
    if recipe.train.max_steps > 0:
        return recipe.train.max_steps
    batches = math.ceil(train_rows / (recipe.train.batch_size * world))
    return max(1, math.ceil(recipe.train.epochs * max(1, batches // recipe.train.grad_accum)))


def _versions() -> dict:
    return {"tuner": tuner_tui.__version__, "python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "peft": peft.__version__, "trl": trl.__version__}


def _devices() -> list[str]:
    if torch.cuda.is_available():
        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return [f"cpu ({os.cpu_count()} cores)"]
