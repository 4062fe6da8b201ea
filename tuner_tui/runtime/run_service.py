"""Everything done to a run, in one place: the CLI (commands/) and the cockpit (ui/) both call this service
to create, launch, stop, resume, re-launch, remove, tag and note, so both have the same guards and the same
messages. Each transition of a run's status has one writer (domain/runs.py says which)."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tuner_tui.domain.dataset_rows import is_local, is_local_folder, local_path
from tuner_tui.domain.model_sources import source_kind
from tuner_tui.domain.problems import Problem, ProblemsFound
from tuner_tui.domain.recipe_diff import diff
from tuner_tui.domain.recipe_loader import LoadedRecipe, load_recipe
from tuner_tui.domain.run_dir import RunDir
from tuner_tui.domain.runs import ACTIVE, child_name, new_record, new_run_id
from tuner_tui.runtime import launcher, run_lock
from tuner_tui.runtime.home import Home
from tuner_tui.runtime.preflight import Preflight, preflight
from tuner_tui.runtime.recipe_catalog import builtin_dir
from tuner_tui.runtime.store import IndexUnwritable, RunStore


@dataclass
class Launched:
    record: dict
    process: subprocess.Popen
    warnings: list[Problem] = field(default_factory=list)


def resolved_recipe(loaded: LoadedRecipe) -> dict:
    """The recipe as the worker must see it: local paths made absolute, so the run dir stands alone."""
    data = loaded.recipe.model_dump(mode="json", exclude_none=False)
    base = loaded.base_dir
    if is_local(data["data"]["path"], base) or is_local_folder(data["data"]["path"], base):
        data["data"]["path"] = str(local_path(data["data"]["path"], base).resolve())
    if source_kind(data["model"]["source"], base) == "local":
        data["model"]["source"] = str(local_path(data["model"]["source"], base).resolve())
    if data["launch"]["accelerate_config"]:
        data["launch"]["accelerate_config"] = str(local_path(data["launch"]["accelerate_config"], base).resolve())
    return data


def new_run_dir(home: Home) -> tuple[str, Path]:
    """A fresh run id and its directory (0700), created: ids are random, so a taken one is drawn again."""
    while True:
        run_id = new_run_id()
        try:
            home.run_dir(run_id).mkdir(mode=0o700)
        except FileExistsError:
            continue
        return run_id, home.run_dir(run_id)


def recipe_origin(path: Path | None, home: Home) -> str:
    if path is None:
        return "path"
    folder = path.resolve().parent
    if folder == builtin_dir().resolve():
        return "built-in"
    return "yours" if folder == home.recipes_dir.resolve() else "path"


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def with_stall(record: dict) -> dict:
    """The record as shown: a live but silent worker gets `stall` {silent_s, why} (never written to the store)."""
    found = launcher.stall_of(record)
    return {**record, "stall": {"silent_s": round(found.silent_s, 1), "why": found.why}} if found else record


class RunService:
    def __init__(self, home: Home, store: RunStore | None = None):
        self.home = home
        self.store = store or RunStore(home)

    # ------------------------------------------------------------------------------------------ reading

    def resolve(self, prefix: str) -> dict:
        """A run by unique id prefix, reconciled (a dead worker's run shows how it ended)."""
        return self.reconcile(self.store.resolve(prefix))

    def reconcile(self, record: dict) -> dict:
        return launcher.reconcile(record, self.store)

    @staticmethod
    def require_dir(record: dict, doing: str) -> RunDir:
        """The run's directory, or a plain message when it was deleted outside tuner (its index entry is all
        that is left): no command reads a missing recipe or log and fails with an internal error."""
        run_dir = RunDir.of(record["run_dir"])
        if not run_dir.path.is_dir():
            raise ProblemsFound([Problem(record["id"], f"cannot {doing}: its run directory {run_dir} was "
                                         "deleted; only its entry in the index is left",
                                         hint=f"`tuner rm {record['id']}` removes the entry")])
        return run_dir

    def all(self) -> list[dict]:
        return [self.reconcile(r) if r.get("status") in ACTIVE else r for r in self.store.all()]

    def shown(self) -> list[dict]:
        """`all()`, with `stall` on each live run whose worker has gone silent (shown, never stored)."""
        return [with_stall(r) for r in self.all()]

    # ------------------------------------------------------------------------------------------ starting

    def create(self, loaded: LoadedRecipe, name: str | None = None, origin: str | None = None,
               parent: dict | None = None) -> tuple[dict, dict, int]:
        """Run dir, resolved recipe.yaml and a `queued` record, under the run's lock (returned held, as a file
        descriptor for `launch`): from here on the run is alive until its worker ends."""
        if self.home.read_only:
            raise ProblemsFound([Problem(str(self.home.root), "cannot start a run: this home is read-only here",
                                         hint="set TUNER_HOME to a folder you can write")])
        run_id, path = new_run_dir(self.home)
        run_dir = RunDir(path)
        lock_fd = run_lock.take(run_dir)
        try:
            recipe = resolved_recipe(loaded)
            header = (f"# Resolved recipe of run {run_id} (from {loaded.path or 'text'}); tuner resume/relaunch "
                      "read it.\n")
            _write_private(run_dir.recipe, header + yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True))
            edits = self._edits(parent, loaded) if parent else {}
            record = new_record(
                run_id, str(run_dir), name=name or self._default_name(loaded, parent),
                recipe_name=loaded.recipe.name, recipe_path=str(loaded.path) if loaded.path else None,
                recipe_origin=origin or ("relaunch" if parent else recipe_origin(loaded.path, self.home)),
                method=loaded.recipe.method.kind, model=loaded.recipe.model.source, host=socket.gethostname(),
                parent_id=parent["id"] if parent else None, edits=edits,
                trust_remote_code=loaded.recipe.model.trust_remote_code)
            self.store.create(dict(record))
        except BaseException:
            os.close(lock_fd)
            shutil.rmtree(path, ignore_errors=True)
            raise
        return dict(record), recipe, lock_fd

    def start(self, loaded: LoadedRecipe, name: str | None = None, parent: dict | None = None,
              checked: Preflight | None = None, force: bool = False, origin: str | None = None) -> Launched:
        """Pre-flight (raises ProblemsFound on blocking problems), then create and launch a detached worker."""
        checked = checked or preflight(loaded, self.home, force=force)
        record, recipe, lock_fd = self.create(loaded, name=name, origin=origin, parent=parent)
        try:
            worker = launcher.recipe_worker_argv(RunDir.of(record["run_dir"]), recipe, resume=False)
        except BaseException:
            os.close(lock_fd)               # never hold a run alive from this process
            raise
        process = launcher.launch(record, self.home, worker, lock_fd)
        return Launched(self.store.get(record["id"]) or record, process, checked.warnings)

    def _default_name(self, loaded: LoadedRecipe, parent: dict | None) -> str:
        if parent is None:
            return loaded.recipe.name
        return child_name(parent.get("name") or parent["id"], {str(r.get("name")) for r in self.store.all()})

    @staticmethod
    def _edits(parent: dict, loaded: LoadedRecipe) -> dict:
        before = load_recipe(RunDir.of(parent["run_dir"]).recipe).recipe.model_dump(mode="json")
        return {k: list(v) for k, v in diff(before, loaded.recipe.model_dump(mode="json")).items()}

    def resume(self, record: dict) -> subprocess.Popen:
        """Continue a stopped, failed or crashed run from its last checkpoint, as the same run."""
        if self.home.read_only:
            raise ProblemsFound([Problem(str(self.home.root), "cannot resume a run: this home is read-only here",
                                         hint="set TUNER_HOME to a folder you can write")])
        record = self.reconcile(record)
        run_dir = self.require_dir(record, "resume the run")
        self._refuse_resume(record)
        lock_fd = self._take_lock(record, run_dir)
        try:       # what was true before the lock may not be now (a resume or rm in another terminal)
            current = self.store.get(record["id"])
            if current is None:
                raise ProblemsFound([Problem(record["id"], "the run was removed meanwhile")])
            self._refuse_resume(current)
            recipe = yaml.safe_load(run_dir.recipe.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as err:
            os.close(lock_fd)
            raise ProblemsFound([Problem(str(run_dir.recipe), f"cannot read the run's recipe: {err}")]) from None
        except BaseException:
            os.close(lock_fd)
            raise
        record = current
        return launcher.launch(record, self.home, launcher.recipe_worker_argv(run_dir, recipe, resume=True),
                               lock_fd)

    @staticmethod
    def _take_lock(record: dict, run_dir: RunDir) -> int:
        try:
            return run_lock.take(run_dir, wait_s=0.5)
        except run_lock.RunBusy:
            raise ProblemsFound([Problem(record["id"], "the run is still running (its worker holds the run's "
                                         "lock)", hint=f"follow it: tuner logs -f {record['id']}")]) from None
        except OSError as err:
            raise ProblemsFound([Problem(str(run_dir.lock), f"cannot take the run's lock: {err.strerror}")]) from None

    @staticmethod
    def _refuse_resume(record: dict) -> None:
        if record["status"] in ACTIVE:
            raise ProblemsFound([Problem(record["id"], "the run is still running",
                                         hint=f"follow it: tuner logs -f {record['id']}")])
        if record["status"] == "finished":
            raise ProblemsFound([Problem(record["id"], "the run already finished",
                                         hint=f"to train more, tuner relaunch {record['id']} --set train.epochs=N")])
        from tuner_tui.runtime.exit_cause import complete_checkpoints

        if not complete_checkpoints(RunDir.of(record["run_dir"])):
            raise ProblemsFound([Problem(record["id"], "there is no checkpoint to resume from (none was saved "
                                         "before it ended)", hint=f"tuner relaunch {record['id']} starts it again "
                                         "as a new run")])

    # ------------------------------------------------------------------------------------------ stopping

    def stop(self, record: dict, grace_s: float = launcher.STOP_GRACE_S) -> dict:
        return launcher.stop(record, self.home, grace_s=grace_s)

    def remove(self, record: dict, files: bool, force: bool = False) -> None:
        record = self.reconcile(record)
        if record["status"] in ACTIVE:
            if not force:
                raise ProblemsFound([Problem(record["id"], "the run is still running",
                                             hint=f"tuner stop {record['id']} first, or tuner rm {record['id']} "
                                             "--force")])
            if launcher.on_this_host(record):          # another host's run: this machine can only forget it
                self.stop(record)
        run_dir = RunDir.of(record["run_dir"])
        lock_fd = None
        if launcher.on_this_host(record) and run_dir.path.is_dir() and not self.home.read_only:
            lock_fd = self._take_lock(record, run_dir)      # held: no resume can start while it goes
        try:
            self._forget(record, files)
        finally:
            if lock_fd is not None:
                os.close(lock_fd)

    def _forget(self, record: dict, files: bool) -> None:
        try:
            self.store.remove(record["id"])
        except IndexUnwritable as full:
            if not files or full.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            # Disk full, the remedy the docs give: the files go first (that frees the space), then the index.
            shutil.rmtree(record["run_dir"], ignore_errors=True)
            self.store.remove(record["id"])
        if files:
            shutil.rmtree(record["run_dir"], ignore_errors=True)

    # ------------------------------------------------------------------------------------------ tags and notes

    def tag(self, run_id: str, tag: str) -> list[str]:
        """Add a tag to what is stored now (not to what was read earlier): concurrent taggers lose nothing."""
        tag = tag.strip()
        if not tag:
            raise ProblemsFound([Problem("TAG", "the tag is empty")])
        changed = self.store.change(run_id, lambda r: {**r, "tags": sorted(set(r.get("tags") or []) | {tag})})
        return self._exists(run_id, changed)["tags"]

    def untag(self, run_id: str, tag: str) -> list[str]:
        changed = self.store.change(run_id, lambda r: {**r, "tags": [t for t in r.get("tags") or [] if t != tag]})
        return self._exists(run_id, changed)["tags"]

    def note(self, run_id: str, text: str) -> str:
        changed = self.store.change(run_id, lambda r: {**r, "notes": text})
        return self._exists(run_id, changed)["notes"]

    @staticmethod
    def _exists(run_id: str, record: dict | None) -> dict:
        if record is None:
            raise ProblemsFound([Problem(run_id, "the run was removed meanwhile")])
        return record
