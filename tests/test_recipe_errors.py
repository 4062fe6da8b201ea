"""What a user sees when a recipe is wrong: every mistake located, explained and reported at once.

The corpus in tests/corpus/bad_recipes/ holds one malformed recipe per file. The first line of each says what
the user must be told:

    # expect: key=<dotted key or empty>; line=<N or empty>; text=<fragment>|<fragment>...

At least one error must have that key (when given), that line (when given) and every text fragment somewhere
in its formatted message. Files that are too big or binary to commit are generated here instead.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tuner_tui import cli
from tuner_tui.domain.problems import Problem, ProblemsFound
from tuner_tui.domain.recipe_loader import LoadedRecipe, load_recipe, load_recipe_text
from tuner_tui.domain.yaml_source import MAX_BYTES

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "corpus" / "bad_recipes"
SMOKE = REPO / "recipes" / "smoke.yaml"
CORPUS_FILES = sorted(CORPUS.glob("*.yaml"))

# A minimal valid recipe; generated fixtures append their mistake to it.
VALID = b"name: ok\nmodel:\n  source: tiny-random-llama\ndata:\n  path: data.jsonl\n"

# Corpus files that expose a bug in the library (see the reasons); strict, so a fix makes them fail loudly.
KNOWN_BUGS: dict[str, str] = {}   # file name -> reason, for strict xfails of bugs not yet fixed


@dataclass(frozen=True)
class Expect:
    key: str | None
    line: int | None
    texts: tuple[str, ...]


EXPECT_RE = re.compile(r"^# expect: key=(?P<key>[^;]*); line=(?P<line>[^;]*); text=(?P<text>.+)$")


def parse_expect(first_line: str) -> Expect:
    match = EXPECT_RE.match(first_line.rstrip("\r\n"))
    assert match, f"first line is not a '# expect: key=...; line=...; text=...' comment: {first_line!r}"
    key, line, text = match["key"].strip(), match["line"].strip(), match["text"].strip()
    texts = tuple(t.strip() for t in text.split("|") if t.strip())
    assert texts, "an expect line needs at least one text fragment"
    return Expect(key or None, int(line) if line else None, texts)


def matches(problem: Problem, expect: Expect) -> bool:
    text = problem.format()
    return (problem.severity == "error"
            and (expect.key is None or problem.key == expect.key)
            and (expect.line is None or problem.line == expect.line)
            and all(t in text for t in expect.texts))


def problems_of(path: Path, overrides: list[str] | None = None) -> list[Problem]:
    """load_recipe must refuse the file with ProblemsFound: not load it, not raise anything else."""
    try:
        load_recipe(str(path), overrides)
    except ProblemsFound as found:
        assert found.problems, "ProblemsFound raised with no problems"
        return found.problems
    except Exception as exc:  # noqa: BLE001 - any other exception is what this test exists to catch
        pytest.fail(f"load_recipe raised {type(exc).__name__} instead of ProblemsFound: {exc}")
    pytest.fail(f"{path.name} loaded without any problem")


def check(path: Path, expect: Expect, problems: list[Problem]) -> None:
    formatted = "\n".join(p.format() for p in problems)
    assert any(matches(p, expect) for p in problems), (
        f"no error matches {expect} in:\n{formatted}")
    for p in problems:
        assert p.format().startswith(str(path)), f"problem does not name the file first: {p.format()}"
    assert "Traceback" not in formatted


# ---------------------------------------------------------------------------------------------- the corpus

def test_corpus_is_big_enough_and_well_formed():
    assert len(CORPUS_FILES) >= 32
    for path in CORPUS_FILES:
        with open(path, encoding="utf-8") as fh:
            parse_expect(fh.readline())


@pytest.mark.parametrize(
    "path",
    [pytest.param(p, id=p.stem, marks=[pytest.mark.xfail(reason=KNOWN_BUGS[p.name], strict=True)]
                  if p.name in KNOWN_BUGS else []) for p in CORPUS_FILES],
)
def test_bad_recipe_is_explained(path: Path):
    with open(path, encoding="utf-8") as fh:
        expect = parse_expect(fh.readline())
    check(path, expect, problems_of(path))


def test_alias_bomb_fails_fast():
    path = CORPUS / "alias_billion_laughs.yaml"
    start = time.perf_counter()
    problems = problems_of(path)
    assert time.perf_counter() - start < 2.0
    assert any("alias" in p.message and "expands" in p.message for p in problems)


# ---------------------------------------------------------------------------------------------- generated files

GENERATED = {
    # name: (bytes, expect)
    "invalid_utf8": (VALID + b"description: caf\xe9 au lait\n",
                     Expect(None, 6, ("not valid UTF-8", "0xe9", "save the file as UTF-8"))),
    "invalid_utf8_first_line": (b"# r\xe9glages\n" + VALID, Expect(None, 1, ("not valid UTF-8",))),
    "nul_bytes": (VALID + b"description: a\x00b\n", Expect(None, 6, ("NUL bytes", "binary"))),
    "over_1mib": (VALID + b"# padding\n" * (MAX_BYTES // 10 + 1), Expect(None, None, ("1 MiB", "bytes"))),
    "zero_bytes": (b"", Expect(None, None, ("the file is empty",))),
    "only_whitespace": (b"\n   \n\n", Expect(None, None, ("the file is empty",))),
    "control_character": (VALID + b"description: bell\x07\n", Expect(None, 6, ("invalid YAML", "U+0007"))),
    "nesting_near_size_cap": (VALID + b"description: " + b"[" * 480_000 + b"]" * 480_000 + b"\n",
                              Expect(None, None, ("nesting is too deep",))),
    "nested_block_mappings": (VALID + b"launch:\n" + b"".join(b"  " * (i + 1) + b"k%d:\n" % i for i in range(80)),
                              Expect(None, None, ("nesting is too deep",))),
}


@pytest.mark.parametrize("name", list(GENERATED))
def test_generated_bad_file_is_explained(tmp_path: Path, name: str):
    raw, expect = GENERATED[name]
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(raw)
    start = time.perf_counter()
    problems = problems_of(path)
    assert time.perf_counter() - start < 10.0, "a hostile file must fail in bounded time"
    check(path, expect, problems)


def test_missing_file_and_folder_are_problems(tmp_path: Path):
    missing = tmp_path / "nope.yaml"
    assert "no such file" in problems_of(missing)[0].format()
    assert "is a folder" in problems_of(tmp_path)[0].format()


def test_reader_error_is_one_clean_line(tmp_path: Path):
    path = tmp_path / "bell.yaml"
    path.write_bytes(VALID + b"description: bell\x07\n")
    (problem,) = problems_of(path)
    assert "\n" not in problem.format()
    assert "<unicode string>" not in problem.format()


def test_utf8_bom_and_non_ascii_text_are_fine(tmp_path: Path):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + VALID + "description: café, 日本語\n".encode())
    loaded = load_recipe(path)
    assert loaded.recipe.name == "ok"
    assert loaded.recipe.description == "café, 日本語"


# ---------------------------------------------------------------------------------------------- all at once

def test_three_mistakes_are_reported_together(tmp_path: Path):
    path = tmp_path / "three.yaml"
    path.write_text(
        "name: three\n"                  # 1
        "model:\n"                       # 2
        "  source: tiny-random-llama\n"  # 3
        "method:\n"                      # 4
        "  kind: qlor\n"                 # 5
        "data:\n"                        # 6
        "  path: data.jsonl\n"           # 7
        "train:\n"                       # 8
        "  sceduler: cosine\n"           # 9
        "  batch_size: 0\n"              # 10
    )
    problems = problems_of(path)
    errors = [p for p in problems if p.severity == "error"]
    assert [(p.key, p.line) for p in errors] == [
        ("method.kind", 5), ("train.sceduler", 9), ("train.batch_size", 10)], "\n".join(
        p.format() for p in problems)
    text = "\n".join(p.format() for p in errors)
    assert "did you mean 'qlora'?" in text
    assert "did you mean 'scheduler'?" in text
    assert "greater than or equal to 1" in text


def test_yaml_level_and_schema_problems_are_reported_together(tmp_path: Path):
    path = tmp_path / "mixed.yaml"
    path.write_text("name: mixed\nmodel:\n  source: tiny-random-llama\n  source: other\n"
                    "data:\n  path: data.jsonl\n  formt: alpaca\n")
    problems = problems_of(path)
    assert {(p.key, p.line) for p in problems} == {("model.source", 4), ("data.formt", 7)}
    assert any("did you mean 'format'?" in p.format() for p in problems)


# ---------------------------------------------------------------------------------------------- tuner validate

@pytest.fixture
def private_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TUNER_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_validate_exits_1_on_a_bad_file_without_traceback(private_home, capsys):
    bad = CORPUS / "literal_kind_qlor.yaml"
    assert cli.main(["validate", str(bad)]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert f"{bad}:6:9: error: method.kind: 'qlor' is not allowed" in captured.err
    assert "did you mean 'qlora'?" in captured.err
    assert "invalid" in captured.out


def test_validate_exits_0_on_smoke(private_home, capsys):
    assert cli.main(["validate", str(SMOKE)]) == 0
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert "ok" in captured.out and "smoke" in captured.out
    assert "error" not in captured.err


def test_validate_reports_every_file_and_fails_if_any_is_bad(private_home, capsys, tmp_path):
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\x00\x01\x02" * 10)
    assert cli.main(["validate", str(SMOKE), str(binary), str(CORPUS / "alias_billion_laughs.yaml")]) == 1
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    assert "binary" in captured.err and "alias bomb" in captured.err
    assert "ok" in captured.out


def test_validate_json_lists_the_problems(private_home, capsys):
    assert cli.main(["validate", "--json", str(CORPUS / "unknown_key_rank.yaml")]) == 1
    captured = capsys.readouterr()
    (result,) = json.loads(captured.out)
    assert result["valid"] is False
    (problem,) = result["problems"]
    assert problem["key"] == "method.lora.rank" and problem["line"] == 7
    assert problem["hint"] == "did you mean 'r'?"


def test_validate_with_a_bad_set_flag(private_home, capsys):
    assert cli.main(["validate", str(SMOKE), "--set", "train.sceduler=linear"]) == 1
    err = capsys.readouterr().err
    assert "--set train.sceduler=linear: error: train.sceduler: unknown key 'sceduler'" in err
    assert "Traceback" not in err


# ---------------------------------------------------------------------------------------------- --set

def load(overrides: list[str], path: Path = SMOKE) -> LoadedRecipe:
    return load_recipe(path, overrides)


def set_problems(overrides: list[str], path: Path = SMOKE) -> list[Problem]:
    return problems_of(path, overrides)


def test_set_keeps_a_string_field_a_string():
    recipe = load(["name=2024"]).recipe
    assert recipe.name == "2024"


def test_set_number_is_typed():
    recipe = load(["train.learning_rate=1e-4", "train.batch_size=2", "data.val_split=0"]).recipe
    assert isinstance(recipe.train.learning_rate, float) and recipe.train.learning_rate == 1e-4
    assert recipe.train.batch_size == 2 and isinstance(recipe.train.batch_size, int)
    assert recipe.data.val_split == 0.0


def test_set_list_value():
    recipe = load(["method.lora.target_modules=[q_proj,k_proj]"]).recipe
    assert recipe.method.lora is not None
    assert recipe.method.lora.target_modules == ["q_proj", "k_proj"]
    # the rest of the lora block written in the file is kept
    assert recipe.method.lora.r == 8


def test_set_null_clears_a_block_and_is_the_fix_the_message_suggests():
    path = CORPUS / "cross_full_with_quantization.yaml"
    (problem,) = set_problems([], path)
    assert "--set method.quantization=null" in problem.format()
    recipe = load(["method.quantization=null"], path).recipe
    assert recipe.method.kind == "full" and recipe.method.quantization is None


def test_set_unknown_key_names_the_flag_and_suggests():
    (problem,) = set_problems(["train.sceduler=cosine"])
    assert problem.file == "--set train.sceduler=cosine"
    assert problem.key == "train.sceduler"
    assert problem.format().startswith("--set train.sceduler=cosine: error:")
    assert "did you mean 'scheduler'?" in problem.format()


def test_set_unknown_section_suggests():
    (problem,) = set_problems(["mdoel.source=x"])
    assert problem.file == "--set mdoel.source=x"
    assert "did you mean 'model'?" in problem.format()


def test_set_value_typo_points_at_the_flag():
    (problem,) = set_problems(["method.kind=qlra"])
    assert problem.file == "--set method.kind=qlra"
    assert problem.key == "method.kind"
    assert problem.line is None
    assert "'qlra' is not allowed" in problem.format()
    assert "did you mean 'qlora'?" in problem.format()


def test_set_wrong_type_points_at_the_flag():
    (problem,) = set_problems(["train.batch_size=four"])
    assert problem.file == "--set train.batch_size=four"
    assert "a whole number" in problem.format() and "'four'" in problem.format()


def test_set_without_equals_and_into_a_scalar():
    problems = set_problems(["train.batch_size", "name.first=x"])
    text = "\n".join(p.format() for p in problems)
    assert "--set train.batch_size: error: expected KEY=VALUE" in text
    assert "'name' is a single value and has no key 'first'" in text


def test_set_and_file_mistakes_are_reported_together():
    problems = set_problems(["method.kind=qlra"], CORPUS / "unknown_key_rank.yaml")
    files = [p.file for p in problems]
    assert files == [str(CORPUS / "unknown_key_rank.yaml"), "--set method.kind=qlra"]


def test_lora_block_under_prefix_is_a_warning_not_an_error():
    loaded = load(["method.kind=prefix"])
    assert loaded.recipe.method.kind == "prefix"
    lora = [w for w in loaded.warnings if w.key == "method.lora"]
    assert len(lora) == 1
    (warning,) = lora
    assert warning.severity == "warning"
    assert "ignored: kind is prefix" in warning.format()
    # it points at the lora block in the file, where the user would remove it
    lora_line = next(i for i, line in enumerate(SMOKE.read_text().splitlines(), 1)
                     if line.strip().startswith("lora:"))
    assert warning.file == str(SMOKE) and warning.line == lora_line
    assert warning.format().startswith(f"{SMOKE}:{lora_line}")


@pytest.mark.parametrize("how", ["file", "set"])
def test_save_no_is_accepted(tmp_path: Path, how: str):
    if how == "file":
        path = tmp_path / "save_no.yaml"
        path.write_bytes(VALID + b"train:\n  save: no\n")
        loaded = load_recipe(path)
    else:
        loaded = load(["train.save=no"])
    assert loaded.recipe.train.save == "no"


# ---------------------------------------------------------------------------------------------- anchors

def test_anchors_aliases_and_merge_keys_work():
    text = (
        "name: anchors\n"
        "model:\n"
        "  source: tiny-random-llama\n"
        "method:\n"
        "  kind: lora\n"
        "  lora:\n"
        "    r: 8\n"
        "    target_modules: &targets [q_proj, k_proj, v_proj]\n"
        "data:\n"
        "  path: data.jsonl\n"
        "  columns: &cols {instruction: question, output: answer}\n"
        "train:\n"
        "  <<: [&fast {batch_size: 2, grad_accum: 8, seed: 7}, {seed: 99, logging_steps: 3}]\n"
        "  batch_size: 4\n"
    )
    loaded = load_recipe_text(text, "anchors.yaml")
    recipe = loaded.recipe
    assert recipe.method.lora is not None and recipe.method.lora.target_modules == ["q_proj", "k_proj", "v_proj"]
    assert recipe.data.columns == {"instruction": "question", "output": "answer"}
    assert recipe.train.batch_size == 4          # an explicit key wins over a merged one
    assert recipe.train.grad_accum == 8          # merged in
    assert recipe.train.seed == 7                # the first merge source wins
    assert recipe.train.logging_steps == 3       # later sources still fill the gaps
    assert loaded.warnings == []


def test_merged_mistake_is_still_located(tmp_path: Path):
    path = tmp_path / "merged_typo.yaml"
    path.write_bytes(VALID + b"train:\n  <<: {batch_sise: 2}\n  grad_accum: 2\n")
    problems = problems_of(path)
    assert any(p.key == "train.batch_sise" and "did you mean 'batch_size'?" in p.format() and p.line is not None
               for p in problems), "\n".join(p.format() for p in problems)


# ---------------------------------------------------------------------------------------------- numbers

@pytest.mark.parametrize(("override", "says"), [
    ("train.epochs=1e400", "'1e400' is not a finite number"),          # a float overflow is infinity
    ("train.epochs=.inf", "inf is not a finite number"),
    ("train.learning_rate=nan", "'nan' is not a finite number"),
    ("method.lora.dropout=-inf", "'-inf' is not a finite number"),
    ("data.val_split=.nan", "nan is not a finite number"),
    ("train.max_steps=0", "0 steps trains nothing"),
    ("train.epochs=1001", "less than or equal to 1000"),
    ("train.seed=4294967296", "less than 4294967296"),
    ("train.batch_size=100000000000000000000000000", "less than or equal to 65536"),
    ("train.grad_accum=1.0e+26", "far too large for a whole number"),
    ("train.eval_steps=10000000000", "less than or equal to 1000000000"),
])
def test_set_number_that_cannot_be_meant_is_refused(override: str, says: str):
    """Issue 11/12: these validated 'ok' and then trained forever, ran one step, or failed in the worker."""
    problems = set_problems([override])
    (problem,) = [p for p in problems if p.severity == "error"]
    assert problem.file == f"--set {override}"
    assert problem.key == override.partition("=")[0]
    assert says in problem.format(), problem.format()


def test_numbers_at_their_bounds_are_accepted():
    recipe = load(["train.epochs=1000", "train.max_steps=-1", "train.seed=4294967295", "train.seed=0",
                   "train.batch_size=65536", "train.max_steps=1"]).recipe
    assert recipe.train.epochs == 1000 and recipe.train.seed == 0 and recipe.train.max_steps == 1


def test_validate_refuses_infinite_epochs_with_file_line_and_key(private_home, capsys):
    bad = CORPUS / "range_epochs_inf.yaml"
    assert cli.main(["validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:8:11: error: train.epochs: inf is not a finite number" in err
    assert "Traceback" not in err
