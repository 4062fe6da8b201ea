"""bitsandbytes' "Failed to load CPU gemm_4bit_forward ... No module named 'kernels'" used to be printed by every
run, `tuner try` and `tuner merge` on CPUs with AVX512-BF16 (peft imports bitsandbytes, which then looks for an
optional kernel from the hub). Now it is silenced, and a 4-bit run on CPU says it once, in words."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO, tuner
from tests.test_engine import run_json, write_recipe
from tuner_tui.training.bnb_notice import _MARKER

NOTE = "bitsandbytes uses its built-in CPU kernel"


def _cpu_has_avx512_bf16() -> bool:
    with open("/proc/cpuinfo", encoding="utf-8") as fh:
        return "avx512_bf16" in fh.read()


def test_importing_the_training_stack_prints_no_kernels_warning():
    """What `tuner try` and `tuner merge` import: the training package first, then peft (and bitsandbytes)."""
    proc = subprocess.run([sys.executable, "-c", "import sys, tuner_tui.training.outputs; "
                           "print('bitsandbytes' in sys.modules)"],
                          capture_output=True, text=True, timeout=300, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "True", "bitsandbytes was not imported: this test would prove nothing"
    assert _MARKER not in proc.stderr + proc.stdout
    assert "kernels" not in proc.stderr


@pytest.mark.slow
def test_a_cpu_qlora_run_and_try_say_it_once_in_words(home, tmp_path):
    proc, first, record = run_json(write_recipe(tmp_path, "qlora", steps=2, eval_steps=2, save_steps=2))
    assert proc.returncode == 0 and record["status"] == "finished", proc.stderr
    log = (home.run_dir(first["run_id"]) / "worker.log").read_text()
    assert _MARKER not in log and "pip install kernels" not in log
    # once where bitsandbytes had to fall back (AVX512-BF16 CPUs), never elsewhere
    assert log.count(NOTE) == (1 if _cpu_has_avx512_bf16() else 0), log[-3000:]
    tried = tuner("try", first["run_id"], "--prompt", "Name a planet.", "--max-new-tokens", "4", "--json",
                  check=True)
    assert _MARKER not in tried.stdout + tried.stderr and NOTE not in tried.stderr   # try loads unquantized
    assert set(json.loads(tried.stdout)) >= {"base", "tuned"}
