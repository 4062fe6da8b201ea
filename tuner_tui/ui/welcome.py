"""The first tab: what to do next, in three keys."""

from __future__ import annotations

from textual.widgets import Static

WELCOME = """[b]tuner[/b] · fine-tune LLMs from the terminal

[b]Start[/b]
  • pick a recipe on the left ([b]demo[/b] is selected: LoRA on SmolLM2-135M, runs on a CPU in ~2 minutes)
  • [b]Enter[/b] opens it in the editor · [b]F5[/b] launches it (pre-flight first)
  • [b]F3[/b] shows runs: [b]Enter[/b] opens a run's dashboard · [b]F2[/b] back to recipes

[b]Keys[/b]  Ctrl+P commands · Ctrl+B side bar · Ctrl+J panel · Ctrl+G GPU
      F1 help · Ctrl+Q quit

Runs live in their own processes: quit, disconnect, come back — they go on, and tuner re-attaches.
"""


class Welcome(Static):
    def __init__(self, home: str, id: str | None = None) -> None:
        super().__init__(WELCOME + f"\nHome: {home}", id=id)
