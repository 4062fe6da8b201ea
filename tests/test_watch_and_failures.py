"""The loss watch (overfitting, spikes) and failure classification: what the user is told, and when."""

from __future__ import annotations

import errno

from tests.conftest import REPO
from tuner_tui.domain.recipe_loader import load_recipe
from tuner_tui.domain.watch import LossWatch


def test_overfitting_is_reported_once_when_eval_rises_while_train_falls():
    watch = LossWatch(patience=2)
    messages = []
    for step, (train, evaluation) in enumerate([(2.0, 1.9), (1.5, 1.6), (1.2, 1.7), (1.0, 1.8), (0.8, 1.9)]):
        watch.on_train_loss(step, train)
        messages.append(watch.on_eval_loss(step, evaluation))
    reported = [m for m in messages if m]
    assert len(reported) == 1 and "overfitting" in reported[0] and "best 1.6" in reported[0]
    assert messages.index(reported[0]) == 3          # after 2 rises in a row, not before


def test_no_overfitting_warning_while_both_losses_fall():
    watch = LossWatch(patience=2)
    for step in range(10):
        watch.on_train_loss(step, 2.0 - step * 0.1)
        assert watch.on_eval_loss(step, 2.1 - step * 0.1) is None


def test_a_loss_spike_is_reported_against_the_recent_median():
    watch = LossWatch()
    for step in range(8):
        assert watch.on_train_loss(step, 1.0 + 0.01 * step) is None
    message = watch.on_train_loss(8, 9.0)
    assert message and "loss spike at step 8" in message


def test_oom_suggestion_keeps_the_effective_batch_and_names_the_command():
    from tuner_tui.training.failures import classify

    recipe = load_recipe(REPO / "recipes" / "lora-qwen2.5-7b.yaml").recipe
    failure = classify(MemoryError("can't allocate"), recipe, "abcd1234")
    assert failure.cause == "oom"
    assert failure.fix == {"train.batch_size": 1, "train.grad_accum": 16, "method.kind": "qlora"}
    assert "tuner relaunch abcd1234 --set train.batch_size=1 --set train.grad_accum=16" in failure.suggestion


def test_disk_full_and_unknown_errors_are_told_apart():
    from tuner_tui.training.failures import classify

    assert classify(OSError(errno.ENOSPC, "No space left on device"), None, "r").cause == "disk_full"
    other = classify(RuntimeError("something odd"), None, "r")
    assert other.cause == "error" and "worker.log" in other.suggestion
