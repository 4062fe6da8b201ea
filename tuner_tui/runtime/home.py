"""Where tuner keeps its files (the home layout is a contract: see docs/architecture.md).

TUNER_HOME, else $XDG_DATA_HOME/tuner, else ~/.local/share/tuner:

    runs.json  runs.json.lock  runs/<run-id>/  recipes/  models/

The home may be someone else's or read-only (a mounted archive, a colleague's runs): tuner then reads it as it
is and writes nothing (`read_only`), and says so once per process.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

_SAID_READ_ONLY: set[Path] = set()


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

    @property
    def read_only(self) -> bool:
        """True when this process cannot write the home (a read-only mount, another user's folder)."""
        return self.root.is_dir() and not os.access(self.root, os.W_OK)

    def ensure(self) -> Home:
        """Create the folders that are missing; those tuner creates are private to the user (0700). An existing
        folder keeps its mode: a shared TUNER_HOME (1777, /tmp) is not ours to lock others out of. A read-only
        home is left as it is (and said once)."""
        if self.read_only:
            self.say_read_only()
            return self
        for path in (self.root, self.runs_dir, self.recipes_dir, self.models_dir):
            if not path.is_dir():
                path.mkdir(parents=True, exist_ok=True)
                if path in (self.root, self.runs_dir):
                    os.chmod(path, 0o700)         # mkdir's mode is cut by the umask; run data stays private
        return self

    def say_read_only(self) -> None:
        """One line on stderr, once per process: reading goes on, nothing will be saved."""
        if self.root in _SAID_READ_ONLY:
            return
        _SAID_READ_ONLY.add(self.root)
        print(f"tuner: note: {self.root} is read-only here: showing it as it is (runs are settled in memory, "
              "nothing is saved; runs cannot be started, stopped or changed)", file=sys.stderr)
