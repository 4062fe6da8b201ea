"""Where tuner keeps its files (the home layout is a contract: see docs/architecture.md).

TUNER_HOME, else $XDG_DATA_HOME/tuner, else ~/.local/share/tuner:

    runs.json  runs.json.lock  runs/<run-id>/  recipes/  models/
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def default(cls) -> Home:
        env = os.environ.get("TUNER_HOME")
        if env:
            return cls(Path(env).expanduser())
        xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        return cls(Path(xdg) / "tuner")

    @property
    def runs_db(self) -> Path:
        return self.root / "runs.json"

    @property
    def runs_lock(self) -> Path:
        return self.root / "runs.json.lock"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def recipes_dir(self) -> Path:
        return self.root / "recipes"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    def ensure(self) -> Home:
        """Create the folders; run data is private to the user (0700)."""
        for path in (self.root, self.runs_dir, self.recipes_dir, self.models_dir):
            path.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)
        os.chmod(self.runs_dir, 0o700)
        return self
