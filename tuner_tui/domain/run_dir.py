"""The files of one run, by name (the home layout is a contract: docs/architecture.md).

A run directory is self-contained: its recipe, its event log, its worker's output, its record, its
checkpoints and outputs. Everything that reads or writes a run's files goes through these names, so the layout
is declared once (and a later remote-host feature can map one `RunDir` onto another machine). Pure paths:
nothing here touches the disk."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunDir:
    path: Path

    @classmethod
    def of(cls, path: str | Path) -> RunDir:
        return cls(Path(path))

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def recipe(self) -> Path:
        """The resolved recipe the worker trains (resume and relaunch read it)."""
        return self.path / "recipe.yaml"

    @property
    def events(self) -> Path:
        """The durable event log (the wire format in domain/events.py)."""
        return self.path / "events.jsonl"

    @property
    def log(self) -> Path:
        """stdout and stderr of the supervisor, the worker and its ranks."""
        return self.path / "worker.log"

    @property
    def record(self) -> Path:
        """The run's copy of its store record: what rebuilds a lost or corrupt index."""
        return self.path / "record.json"

    @property
    def lock(self) -> Path:
        """Held (flock) by the run's supervisor and worker for their whole lives: held = alive."""
        return self.path / "run.lock"

    @property
    def heartbeat(self) -> Path:
        """Kept fresh by the worker's event writer: fresh = making progress."""
        return self.path / "heartbeat.json"

    @property
    def reserve(self) -> Path:
        """A little disk space held from launch, let go on a full disk so the run's end can still be written."""
        return self.path / "space.reserve"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def adapter(self) -> Path:
        return self.path / "adapter"

    @property
    def merged(self) -> Path:
        return self.path / "merged"

    @property
    def series_cache(self) -> Path:
        return self.path / "series.cache"

    def output(self, name: str) -> Path:
        """A named output folder (adapter, merged, gguf, ...)."""
        return self.path / name

    def __str__(self) -> str:
        return str(self.path)
