"""Hub model ids that are not on this machine: pre-flight says so, and the worker reports its loading steps and
ends `failed`/`model_not_found` in seconds with what to do (no minute of download retries, no resume advice).

Through the real CLI and the real worker. The hub itself is never reached: an unreachable hub is a closed local
port, a hub that does not know the id is a local HTTP server answering as huggingface.co does (401 with
X-Error-Code: RepoNotFound)."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from tests.conftest import tuner
from tests.test_engine import events_of, write_recipe
from tuner_tui.domain.event_text import describe
from tuner_tui.domain.events import decode
from tuner_tui.domain.model_sources import hub_snapshot, uncached_hub_model
from tuner_tui.runtime.store import RunStore

HUB_ID = "acme-test/no-such-model"


def hub_env(tmp_path: Path, endpoint: str | None = None, offline: str = "") -> dict:
    """An empty private hub cache, no token, online unless asked; the endpoint a local port."""
    env = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_CACHE": str(tmp_path / "hf" / "hub"), "HF_TOKEN": "",
           "HF_HUB_OFFLINE": offline, "TRANSFORMERS_OFFLINE": "", "NO_PROXY": "127.0.0.1,localhost",
           "no_proxy": "127.0.0.1,localhost"}
    if endpoint:
        env["HF_ENDPOINT"] = endpoint
    return env


def hub_recipe(tmp_path: Path, source: str = HUB_ID) -> Path:
    """The tiny recipe with model.source written on line 3 of the file (so the warning can name it)."""
    data = yaml.safe_load(write_recipe(tmp_path, "lora", steps=4).read_text(encoding="utf-8"))
    data.pop("name"), data.pop("model")
    path = tmp_path / "hub.yaml"
    path.write_text(f"name: hub-test\nmodel:\n  source: {source}\n" + yaml.safe_dump(data), encoding="utf-8")
    return path


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def hub_without_the_model():
    """A local 'hub' that answers every request as huggingface.co answers for a repo it does not have."""
    class NotFound(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            body = b'{"error":"Repository not found"}'
            self.send_response(401)
            self.send_header("X-Error-Code", "RepoNotFound")
            self.send_header("X-Error-Message", "Repository not found")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_HEAD = do_GET

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def fake_cached(cache: Path, repo_id: str, weights: bool = True) -> Path:
    snapshot = cache / ("models--" + repo_id.replace("/", "--")) / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("abc123")
    (snapshot / "config.json").write_text(json.dumps({"model_type": "llama"}))
    if weights:
        (snapshot / "model.safetensors").write_bytes(b"\0" * 16)
    return snapshot


# ---------------------------------------------------------------------------------------------- pre-flight


def test_validate_warns_that_an_uncached_hub_id_cannot_be_checked(home, tmp_path):
    recipe = hub_recipe(tmp_path)
    proc = tuner("validate", str(recipe), env=hub_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    warning = [line for line in proc.stderr.splitlines() if "not in the local cache" in line]
    assert len(warning) == 1, proc.stderr
    assert warning[0].startswith(f"{recipe}:3: warning: model.source: {HUB_ID} is a hub id")
    assert "cannot be checked before launch" in warning[0] and "HF_TOKEN" in warning[0]
    assert str(tmp_path / "hf" / "hub") in warning[0]          # the cache it looked in


def test_validate_refuses_an_uncached_hub_id_when_the_hub_is_off(home, tmp_path):
    proc = tuner("validate", str(hub_recipe(tmp_path)), env=hub_env(tmp_path, offline="1"))
    assert proc.returncode == 1
    assert ":3: error: model.source:" in proc.stderr and "HF_HUB_OFFLINE=1 forbids downloading it" in proc.stderr
    assert "invalid" in proc.stdout


def test_a_cached_hub_id_needs_no_word(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    snapshot = fake_cached(tmp_path / "hub", HUB_ID)
    assert hub_snapshot(HUB_ID) == snapshot and uncached_hub_model(HUB_ID) is None
    assert uncached_hub_model(HUB_ID, revision="v2") is not None      # another revision is not cached
    (snapshot / "model.safetensors").unlink()                          # config only: the weights would download
    assert uncached_hub_model(HUB_ID) is not None
    assert uncached_hub_model("tiny-random-llama") is None and uncached_hub_model("./here", tmp_path) is None


# ---------------------------------------------------------------------------------------------- the worker


def _run_attached(home, tmp_path, env: dict) -> tuple[str, dict, list[dict], float]:
    began = time.monotonic()
    proc = tuner("run", str(hub_recipe(tmp_path)), env=env, timeout=120)
    took = time.monotonic() - began
    assert proc.returncode == 1, proc.stdout + proc.stderr
    [record] = RunStore(home).all()
    return proc.stdout + proc.stderr, record, events_of(home, record["id"]), took


def _assert_fails_fast_with(home, output: str, record: dict, events: list[dict], took: float, says: str):
    assert record["status"] == "failed" and record["failure"]["cause"] == "model_not_found"
    assert says in record["failure"]["message"]
    kinds = [e["type"] for e in events]
    assert kinds[-1] == "failed" and "started" not in kinds
    steps = [e for e in events if e["type"] == "phase"]
    assert steps and all(e["phase"] == "loading" for e in steps)
    assert any(HUB_ID in (e.get("detail") or "") for e in steps)       # progress before the failure
    assert took < 20, took               # it takes ~2 s here; the hub's retries took 46 s before
    show = tuner("show", record["id"], env={"HF_HUB_OFFLINE": ""})
    assert "model_not_found" in show.stdout and f"loading · asking the hub for {HUB_ID}" in show.stdout
    for text in (output, show.stdout):   # no checkpoint: nothing may suggest resuming
        assert "tuner resume" not in text and "resume:" not in text
    assert f"tuner relaunch {record['id']}" in output
    log = Path(record["run_dir"], "worker.log").read_text(encoding="utf-8")
    assert f"loading: asking the hub for {HUB_ID}" in log


def test_an_unreachable_hub_fails_fast_as_model_not_found(home, tmp_path):
    env = hub_env(tmp_path, endpoint=f"http://127.0.0.1:{closed_port()}")
    output, record, events, took = _run_attached(home, tmp_path, env)
    _assert_fails_fast_with(home, output, record, events, took, "cannot reach the hub")
    assert "network" in record["failure"]["suggestion"] and "model.source" in record["failure"]["suggestion"]


def test_an_id_the_hub_does_not_have_fails_fast_as_a_typo(home, tmp_path, hub_without_the_model):
    output, record, events, took = _run_attached(home, tmp_path, hub_env(tmp_path, hub_without_the_model))
    _assert_fails_fast_with(home, output, record, events, took, f"the hub has no model {HUB_ID}")
    assert "no HF_TOKEN is set" in record["failure"]["message"]
    assert "typo" in record["failure"]["suggestion"] and "HF_TOKEN" in record["failure"]["suggestion"]


def test_the_worker_refuses_an_uncached_hub_id_offline_without_asking(monkeypatch, tmp_path):
    from tuner_tui.training.failures import classify
    from tuner_tui.training.hub_access import check_hub_model
    from tuner_tui.training.model_sources import ModelSourceError

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    with pytest.raises(ModelSourceError) as raised:
        check_hub_model(HUB_ID, None)
    failure = classify(raised.value, None, "r1")
    assert failure.cause == "model_not_found" and "TRANSFORMERS_OFFLINE=1 forbids" in failure.message
    assert "unset TRANSFORMERS_OFFLINE" in failure.suggestion and "resume" not in failure.suggestion


# ---------------------------------------------------------------------------------------------- the event


def test_a_loading_step_is_a_phase_with_a_detail_that_old_and_new_readers_take():
    line = '{"v":1,"t":1.0,"type":"phase","phase":"loading","detail":"tokenizer of Qwen/Qwen2.5-0.5B"}'
    event = decode(line)
    assert event is not None and describe(event).endswith("phase      loading · tokenizer of Qwen/Qwen2.5-0.5B")
    assert decode(line.replace('"tokenizer of Qwen/Qwen2.5-0.5B"', "[1, 2]")) is None      # untrusted input
    assert describe(decode('{"v":1,"t":1.0,"type":"phase","phase":"loading"}')).endswith("loading")

    from tuner_tui.domain.progress_text import progress_line
    from tuner_tui.domain.run_progress import RunProgress

    progress = RunProgress()
    progress.feed([event])
    assert progress_line(progress, now=2.0) == "loading: tokenizer of Qwen/Qwen2.5-0.5B..."
    progress.feed([{"v": 1, "t": 3.0, "type": "phase", "phase": "training", "total_steps": 4}])
    assert progress.phase_detail is None
