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
