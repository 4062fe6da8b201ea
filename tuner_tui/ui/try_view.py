"""Try-it: a prompt, and the base and tuned models' answers side by side.

The models are loaded by `tuner try` in a separate process (it imports torch and can take a minute on a
CPU), so the cockpit never blocks and a crash there cannot take the cockpit down."""

from __future__ import annotations

import json
import subprocess

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Static

from tuner_tui.runtime.run_actions import try_argv
from tuner_tui.ui.plain_text import plain

TRY_TIMEOUT_S = 900


class TryView(Vertical):
    def __init__(self, record: dict, id: str | None = None) -> None:
        super().__init__(id=id)
        self.record = record

    def compose(self) -> ComposeResult:
        yield Static(Text.assemble(("Try", "bold"),
                                   plain(f" run {self.record['id']} ({self.record['name']}): base vs tuned")))
        yield Input(placeholder="a prompt, then Enter (e.g. What is the capital of France?)", id="try-prompt")
        yield Static("", id="try-status")
        with Horizontal(id="try-answers"):
            yield Static("", classes="answer", id="try-base")
            yield Static("", classes="answer", id="try-tuned")

    def on_mount(self) -> None:
        self.query_one("#try-base", Static).border_title = "base"
        self.query_one("#try-tuned", Static).border_title = f"tuned ({self.record['id']})"

    def on_input_submitted(self, event: Input.Submitted) -> None:
        prompt = event.value.strip()
        if prompt:
            self.query_one("#try-status", Static).update("loading both models in a separate process…")
            self.ask(prompt)

    @work(thread=True, exclusive=True)
    def ask(self, prompt: str) -> None:
        try:
            proc = subprocess.run(try_argv(self.record["id"], prompt), capture_output=True, text=True,
                                  timeout=TRY_TIMEOUT_S, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            self.app.call_from_thread(self._show, None, f"no answer within {TRY_TIMEOUT_S} s")
            return
        if proc.returncode != 0:
            why = (proc.stderr or proc.stdout).strip().splitlines()
            self.app.call_from_thread(self._show, None, why[-1] if why else f"exit {proc.returncode}")
            return
        try:
            answers = json.loads(proc.stdout)          # --json prints exactly one document
        except ValueError:
            self.app.call_from_thread(self._show, None, "`tuner try` printed no answer")
            return
        self.app.call_from_thread(self._show, answers, "")

    def _show(self, answers: dict | None, error: str) -> None:
        status = self.query_one("#try-status", Static)
        if answers is None:
            status.update(plain(f"✖ {error}", style="red"))
            return
        status.update("done: the same prompt, greedy decoding, both models")
        self.query_one("#try-base", Static).update(plain(answers.get("base", "")))
        self.query_one("#try-tuned", Static).update(plain(answers.get("tuned", "")))
