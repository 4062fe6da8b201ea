"""The prepared GPU check runs in its reduced CPU mode, so it is known to work before a GPU is lent."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO


def test_gpu_check_cpu_mode_runs_every_method_and_the_baseline(home):
    out = subprocess.run([sys.executable, str(REPO / "bench" / "gpu_check.py"), "--cpu"], capture_output=True,
                         text=True, timeout=900, cwd=REPO)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["name"] == "gpu_check" and set(result) == {"name", "figures", "goal", "met"}
    figures = result["figures"]
    for kind in ("qlora", "lora", "full"):
        assert figures[kind]["status"] == "finished", figures[kind]
        assert figures[kind]["tokens_per_s"] > 0
    assert figures["qlora"]["quantized_layers"]["Linear4bit"] >= 14
    assert figures["lora_bare_trl_tokens_per_s"] > 0


def bench_result(script: str, *args: str, timeout: float = 300) -> dict:
    out = subprocess.run([sys.executable, str(REPO / "bench" / script), *args], capture_output=True, text=True,
                         timeout=timeout, cwd=REPO)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(result) == {"name", "figures", "goal", "met"} and isinstance(result["met"], bool)
    return result


def test_ui_startup_bench_quick_mode_measures_both_apps_without_torch():
    """Shape and hygiene only: the speed goal is proven by running the bench, not by a timed assertion."""
    result = bench_result("ui_startup.py", "--pairs", "2")
    figures = result["figures"]
    assert result["name"] == "ui_startup"
    assert len(figures["tuner_ms"]) == len(figures["bare_ms"]) == 2
    assert figures["tuner_ms_median"] > 0 and figures["bare_ms_median"] > 0 and figures["ratio"] > 0
    assert figures["torch_imported"] is False and figures["heavy_modules_imported"] == []


def test_ui_idle_bench_quick_mode_follows_a_live_replay_without_torch():
    result = bench_result("ui_idle.py", "--seconds", "5", "--settle", "5")
    figures = result["figures"]
    assert result["name"] == "ui_idle"
    assert figures["live_run"]["events_followed"] > 0 and figures["no_runs"]["events_followed"] == 0
    assert figures["cpu_percent_live"] >= 0 and figures["cpu_percent_no_runs"] >= 0
    assert figures["torch_imported"] is False and figures["heavy_modules_imported"] == []


def test_data_audit_bench_small_mode_audits_every_kind_of_row():
    proc = subprocess.run([sys.executable, "bench/data_audit.py", "--rows", "200"], capture_output=True, text=True,
                          timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["name"] == "data_audit" and result["figures"]["tools"]["tokens"] > 0
