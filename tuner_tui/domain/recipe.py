"""The recipe language: what a fine-tuning run is, as pydantic models.

The key paths mirror the seed's LoraConfig / BitsAndBytesConfig / TrainingArguments and are a contract
(docs/architecture.md). Every field carries a description: `tuner schema` exports them as JSON Schema for
editors, and the error messages quote them.

Cross-field rules that make a recipe unrunnable are errors; settings that would merely be ignored (a `lora`
block under `kind: prefix`) are warnings, so `--set method.kind=...` works on any recipe.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from tuner_tui.domain.methods import METHODS, MethodKind, Section, kinds_using, method, spoken_list

DataFormat = Literal["alpaca", "sharegpt", "messages", "text"]
DataTemplate = Literal["alpaca", "chat"]
ROLE_TARGETS = ("user", "assistant", "system", "tool", "tool_call")
TrainOn = Literal["assistant", "last", "all"]

# Upper bounds for numbers the worker hands to torch/transformers. Each is far beyond any real run, so only a
# typo (1e26) or a YAML `.inf` reaches it, and it is refused here with file, line and key instead of failing
# (or training forever) in the worker.
MAX_EPOCHS = 1000                # a run of 1000 epochs over the same rows has long stopped learning
MAX_STEPS = 1_000_000_000        # optimizer steps (and logging/eval/save intervals)
MAX_BATCH = 65_536               # examples per device per step, and steps accumulated per update
MAX_CHECKPOINTS = 10_000         # checkpoints kept, evaluations of patience
SEED_LIMIT = 2**32               # numpy's seeds are 0 <= seed < 2**32 (transformers seeds numpy too)


class Strict(BaseModel):
    """Unknown keys are refused (with a "did you mean"), never silently ignored; true/false is never a number."""

    # allow_inf_nan=False: a YAML `.inf`/`.nan`, an overflowing `1e400` or `--set x=nan` is never a setting.
    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool_as_number(cls, value: object, info: ValidationInfo) -> object:
        # pydantic's lax mode reads `batch_size: yes` as 1; a user who wrote that made a mistake.
        if isinstance(value, bool) and info.field_name:
            annotation = str(cls.model_fields[info.field_name].annotation)
            if "bool" not in annotation and ("int" in annotation or "float" in annotation):
                raise ValueError("true/false is not a number")
        return value


class ModelSpec(Strict):
    source: str = Field(
        min_length=1,
        description="What to fine-tune: a Hugging Face hub id (e.g. Qwen/Qwen2.5-0.5B-Instruct), a local folder "
        "with config.json, or a built-in offline model: smollm2-135m-instruct, tiny-random-llama.",
    )
    dtype: Literal["auto", "bfloat16", "float16", "float32"] = Field(
        "auto", description="Dtype of the weights that are not quantized. auto: bf16 where supported, else fp16 "
        "on GPU, fp32 on CPU. fp32 doubles memory against bf16."
    )
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit) to pin the model to.")
    trust_remote_code: bool = Field(
        False, description="Run Python code shipped with the model repo. Only for repos you trust; stated in "
        "pre-flight and in the run record."
    )


class LoraSpec(Strict):
    r: int = Field(16, ge=1, le=1024, description="LoRA rank. Higher = more capacity, more trainable "
                   "parameters and memory (r × (d + k) per targeted module).")
    alpha: int = Field(32, ge=1, le=4096, description="LoRA scaling numerator (scale = alpha / r). Usually 2 × r.")
    dropout: float = Field(0.05, ge=0.0, lt=1.0, description="Dropout on the LoRA path, in [0, 1).")
    target_modules: list[str] | Literal["all-linear"] = Field(
        default_factory=lambda: ["q_proj", "v_proj"],
        description="Module names to adapt (e.g. [q_proj, k_proj, v_proj, o_proj]) or all-linear. More modules "
        "= better quality, more memory.",
    )
    bias: Literal["none", "all", "lora_only"] = Field("none", description="Which biases to train.")

    @model_validator(mode="after")
    def _targets_not_empty(self) -> LoraSpec:
        if isinstance(self.target_modules, list) and not self.target_modules:
            raise ValueError("target_modules is empty: name at least one module, e.g. [q_proj, v_proj]")
        return self


class QuantizationSpec(Strict):
    bits: Literal[4, 8] = Field(4, description="Load the frozen base weights in 4-bit (QLoRA) or 8-bit. "
                                "4-bit cuts weight memory ~4× against bf16.")
    quant_type: Literal["nf4", "fp4"] = Field("nf4", description="4-bit data type; nf4 suits normally "
                                              "distributed weights (the QLoRA paper's choice).")
    double_quant: bool = Field(True, description="Quantize the quantization constants too: saves ~0.4 bit "
                               "per parameter.")
    compute_dtype: Literal["bfloat16", "float16", "float32"] = Field(
        "bfloat16", description="Dtype the 4-bit weights are dequantized to for matmuls.")


class PrefixSpec(Strict):
    num_virtual_tokens: int = Field(20, ge=1, le=1024, description="Learned prefix length per layer. Longer "
                                    "= more capacity, longer effective sequence.")
    prefix_projection: bool = Field(False, description="Reparametrize the prefix through an MLP (more "
                                    "trainable parameters, often more stable).")


class IA3Spec(Strict):
    """peft's IA3Config. The defaults are peft's own for Llama-style models (Llama, Mistral, Qwen2, Gemma)."""

    target_modules: list[str] = Field(
        default_factory=lambda: ["k_proj", "v_proj", "down_proj"],
        description="Module names that get a learned scaling vector (one number per channel: out_features for "
        "attention modules, in_features for feed-forward ones). More modules = a few more parameters.",
    )
    feedforward_modules: list[str] = Field(
        default_factory=lambda: ["down_proj"],
        description="Which of target_modules are feed-forward layers: their input is scaled instead of their "
        "output. Must be a subset of target_modules.",
    )

    @model_validator(mode="after")
    def _feedforward_among_targets(self) -> IA3Spec:
        if not self.target_modules:
            raise ValueError("target_modules is empty: name at least one module, e.g. [k_proj, v_proj, down_proj]")
        stray = [m for m in self.feedforward_modules if m not in self.target_modules]
        if stray:
            raise ValueError(f"feedforward_modules {stray} are not in target_modules {self.target_modules}: add "
                             "them to target_modules or remove them (peft scales only targeted modules)")
        return self


# The method descriptions below are written from the registry (domain/methods.py), so they list every method.
_QUANTIZATION_DOC = {"required_4bit": "{kinds} defaults to 4-bit nf4 + double quantization;",
                     "optional": "{kinds} may use 8-bit or 4-bit;", "ignored": "ignored for {kinds};",
                     "refused": "refused for {kinds}."}


def _by_rule() -> dict[str, tuple[str, ...]]:
    rules: dict[str, tuple[str, ...]] = {rule: () for rule in _QUANTIZATION_DOC}
    for m in METHODS.values():
        rules[m.quantization] += (m.kind,)
    return {rule: kinds for rule, kinds in rules.items() if kinds}


def _sections_doc(section: Section) -> str:
    return f"(kind: {' | '.join(kinds_using(section))})"


class MethodSpec(Strict):
    kind: MethodKind = Field(
        "lora", description=" ".join(f"{m.kind}: {m.summary}." for m in METHODS.values())
    )
    lora: LoraSpec | None = Field(None, description=f"Adapter settings {_sections_doc('lora')}.")
    quantization: QuantizationSpec | None = Field(
        None, description="Load the base in 4 or 8 bits (bitsandbytes). "
        + " ".join(_QUANTIZATION_DOC[rule].format(kinds=spoken_list(kinds)) for rule, kinds in _by_rule().items())
    )
    prefix: PrefixSpec | None = Field(None, description=f"Prefix tuning settings {_sections_doc('prefix')}.")
    ia3: IA3Spec | None = Field(None, description=f"IA3 settings {_sections_doc('ia3')}.")


class DataSpec(Strict):
    path: str = Field(min_length=1, description="A local .json/.jsonl/.csv/.parquet file (relative to the "
                      "recipe) or a hub dataset id.")
    format: DataFormat = Field(
        "alpaca", description="alpaca: instruction/input/output. sharegpt: conversations of from/value. "
        "messages: role/content lists through the chat template. text: plain text."
    )
    columns: dict[str, str] = Field(
        default_factory=dict, description="Map the format's field names to your columns, e.g. "
        "{instruction: question, output: answer}."
    )
    split: str = Field("train", description="Which split of a hub dataset to read.")
    val_split: float = Field(0.1, ge=0.0, lt=0.5, description="Fraction held out for evaluation, in [0, 0.5). "
                             "0 means no eval loss and no overfitting watch.")
    max_length: int = Field(1024, ge=16, le=131072, description="Tokens per example; longer rows are "
                            "truncated (and counted). Activation memory grows with it.")
    packing: bool = Field(False, description="Pack several short examples into one sequence: faster on "
                          "short rows.")
    template: DataTemplate | None = Field(
        None, description="How rows become the text the model reads. alpaca: the '### Instruction: / ### "
        "Response:' layout (the default for format: alpaca). chat: conversation turns through the model's chat "
        "template, or the one data.chat_template names (the default for sharegpt and messages). Either way the "
        "template is saved with the adapter and merged model, so apply_chat_template at serving time renders "
        "prompts as training did. Not used by format: text."
    )
    train_on: TrainOn | None = Field(
        None, description="Which tokens the loss learns from. assistant: every assistant turn (answers and "
        "tool calls; the default). last: only the last assistant turn. all: every token, prompts included (the "
        "default for format: text). Inspect the result with `tuner data RECIPE`."
    )
    completion_only: bool | None = Field(None, description="Older spelling: false is data.train_on: all, true "
                                         "is data.train_on: assistant.")
    chat_template: str | None = Field(None, description="The chat template for data.template: chat, instead of "
                                      "the model's own: chatml, chatml-tools (ChatML with tool calls, the "
                                      "Hermes/Qwen2.5 layout), or a Jinja template string.")
    roles: dict[str, str] = Field(
        default_factory=dict, description="Map extra sharegpt/messages roles to user, assistant, system, tool "
        "(a tool's result) or tool_call (an assistant turn holding a JSON {name, arguments} call), e.g. "
        "{bot: assistant}. sharegpt's function_call and observation are tool_call and tool already."
    )
    max_rows: int | None = Field(None, ge=1, description="Use at most this many rows (quick experiments).")

    @field_validator("roles")
    @classmethod
    def _known_targets(cls, roles: dict[str, str]) -> dict[str, str]:
        wrong = {k: v for k, v in roles.items() if v not in ROLE_TARGETS}
        if wrong:
            raise ValueError(f"roles map to {spoken_list(ROLE_TARGETS).replace(' and ', ' or ')}; not "
                             f"{', '.join(map(repr, wrong.values()))}")
        return roles

    @model_validator(mode="after")
    def _one_train_on(self) -> DataSpec:
        if self.completion_only is not None and self.train_on is not None and \
                (self.train_on == "all") == self.completion_only:
            raise ValueError(f"data.completion_only: {str(self.completion_only).lower()} contradicts data.train_on: "
                             f"{self.train_on}; keep data.train_on only")
        if self.format == "text" and self.train_on not in (None, "all"):
            raise ValueError(f"format: text has no turns, so data.train_on: {self.train_on} cannot apply; text is "
                             "trained on every token")
        return self

    @property
    def rendering(self) -> str:
        """The template rows go through: 'text' (raw), 'alpaca' or 'chat'."""
        if self.format == "text":
            return "text"
        return self.template or ("alpaca" if self.format == "alpaca" else "chat")

    @property
    def trained(self) -> str:
        """What the loss learns from: 'assistant', 'last' or 'all'."""
        if self.format == "text":
            return "all"
        if self.train_on is not None:
            return self.train_on
        return "all" if self.completion_only is False else "assistant"


class TrainSpec(Strict):
    epochs: float = Field(3, gt=0, le=MAX_EPOCHS, description="Passes over the training data, at most "
                          f"{MAX_EPOCHS} (ignored when max_steps > 0).")
    max_steps: int = Field(-1, ge=-1, le=MAX_STEPS, description="Stop after this many optimizer steps (>= 1); "
                           "-1 = use epochs.")
    batch_size: int = Field(4, ge=1, le=MAX_BATCH, description="Examples per device per step. Activation "
                            "memory grows linearly with it.")
    grad_accum: int = Field(4, ge=1, le=MAX_BATCH, description="Steps accumulated per optimizer update: "
                            "effective batch = batch_size × grad_accum × processes, at no memory cost.")
    learning_rate: float = Field(2.0e-4, gt=0, le=1.0, description="Peak learning rate (LoRA ~1e-4..3e-4, "
                                 "full ~1e-5).")
    weight_decay: float = Field(0.01, ge=0, le=1.0, description="AdamW weight decay.")
    warmup_ratio: float = Field(0.03, ge=0, lt=1.0, description="Fraction of steps spent warming up the "
                                "learning rate.")
    scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup", "cosine_with_restarts",
                       "polynomial"] = Field("cosine", description="Learning-rate schedule.")
    optimizer: Literal["adamw_torch", "adamw_8bit", "paged_adamw_8bit", "paged_adamw_32bit", "adafactor",
                       "sgd"] = Field("adamw_torch", description="Optimizer. 8-bit Adam cuts optimizer state "
                                      "memory ~4× (bitsandbytes, GPU).")
    logging_steps: int = Field(10, ge=1, le=MAX_STEPS, description="Log train loss every N steps.")
    eval_steps: int | None = Field(None, ge=1, le=MAX_STEPS, description="Evaluate every N steps (default: logging_steps × "
                                   "5). Each eval costs a pass over the held-out rows.")
    save: Literal["epoch", "steps", "no"] = Field("epoch", description="When to save checkpoints: every "
                                                  "epoch, every save_steps, or never (stop still saves one).")
    @field_validator("save", mode="before")
    @classmethod
    def _save_no(cls, value: object) -> object:
        return "no" if value is False else value        # YAML 1.1 reads a bare `no` as false

    save_steps: int = Field(500, ge=1, le=MAX_STEPS, description="Checkpoint every N steps when save: steps.")
    save_total_limit: int | None = Field(2, ge=1, le=MAX_CHECKPOINTS, description="Keep at most this many checkpoints (disk).")
    precision: Literal["auto", "bf16", "fp16", "fp32"] = Field(
        "auto", description="Mixed precision. auto: bf16 where supported, fp16 on older GPUs, bf16 autocast on "
        "CPU.")
    gradient_checkpointing: bool = Field(False, description="Recompute activations in the backward pass: "
                                         "much less activation memory for ~30% more time.")
    seed: int = Field(42, ge=0, lt=SEED_LIMIT, description="Seed for shuffling, the held-out split and "
                      "initialization, in [0, 2**32).")
    early_stopping_patience: int | None = Field(
        None, ge=1, le=MAX_CHECKPOINTS, description="Stop after this many evaluations without a better eval loss, keeping the best "
        "checkpoint. Needs data.val_split > 0.")

    @field_validator("max_steps")
    @classmethod
    def _some_steps(cls, value: int) -> int:
        # 0 used to plan the epochs' steps, run one and report "finished 1 steps".
        if value == 0:
            raise ValueError("0 steps trains nothing: use -1 to train for train.epochs, or a step count >= 1")
        return value


class OutputSpec(Strict):
    merge: bool = Field(False, description="After training, merge the adapter into the base and save full "
                        "safetensors in merged/ (needs disk for a full copy of the model).")


class LaunchSpec(Strict):
    num_processes: int = Field(1, ge=1, le=1024, description="Processes (GPUs) to train on; > 1 runs the "
                               "worker under accelerate launch (DDP).")
    accelerate_config: str | None = Field(None, description="An accelerate config file for FSDP or DeepSpeed.")


class Recipe(Strict):
    name: str = Field(min_length=1, max_length=100, description="Short name of the recipe; runs are named "
                      "after it.")
    description: str | None = Field(None, description="One line on what the recipe is for.")
    model: ModelSpec = Field(description="The base model.")
    method: MethodSpec = Field(default_factory=lambda: MethodSpec(), description="How to fine-tune it.")
    data: DataSpec = Field(description="The training data.")
    train: TrainSpec = Field(default_factory=lambda: TrainSpec(), description="Training arguments.")
    output: OutputSpec = Field(default_factory=lambda: OutputSpec(), description="What to write at the end.")
    launch: LaunchSpec = Field(default_factory=lambda: LaunchSpec(), description="Where to run it.")

    @model_validator(mode="after")
    def _cross_field(self) -> Recipe:
        self._method_rules()
        if self.train.early_stopping_patience is not None and self.data.val_split == 0:
            raise ValueError(
                "train.early_stopping_patience: needs held-out data; set data.val_split > 0 (e.g. 0.1)"
            )
        return self

    def _method_rules(self) -> None:
        """What the registry says the method cannot do (domain/methods.py)."""
        m, quant = method(self.method.kind), self.method.quantization
        if m.quantization == "refused" and quant is not None:
            raise ValueError(
                f"method.quantization: {m.long_label} of a quantized model is refused (quantized weights cannot "
                "be trained); use kind: qlora, or remove quantization (--set method.quantization=null)"
            )
        if m.quantization == "required_4bit" and quant is not None and quant.bits != 4:
            raise ValueError(
                f"method.quantization.bits: {m.kind} is LoRA on a 4-bit base; for an 8-bit base use kind: lora "
                "with quantization.bits: 8"
            )
        if self.output.merge and not m.mergeable and m.output != "merged":
            raise ValueError(f"output.merge: {m.long_label} has no weights to merge; set output.merge: false")

    # Derived settings the worker and pre-flight share.
    @property
    def lora(self) -> LoraSpec:
        return self.method.lora or LoraSpec()

    @property
    def quantization(self) -> QuantizationSpec | None:
        rule = method(self.method.kind).quantization
        if rule == "required_4bit":
            return self.method.quantization or QuantizationSpec()
        return self.method.quantization if rule == "optional" else None

    @property
    def prefix(self) -> PrefixSpec:
        return self.method.prefix or PrefixSpec()

    @property
    def ia3(self) -> IA3Spec:
        return self.method.ia3 or IA3Spec()

    @property
    def eval_steps(self) -> int:
        return self.train.eval_steps or self.train.logging_steps * 5

    @property
    def activation_checkpointing(self) -> bool:
        """train.gradient_checkpointing as the worker applies it: never for a method that cannot checkpoint
        (prefix tuning, whose virtual tokens travel in the KV cache that transformers drops inside a checkpointed
        layer: the attention mask then no longer matches the keys and the first step fails)."""
        return method(self.method.kind).checkpointable and self.train.gradient_checkpointing

    def ignored_settings(self) -> list[tuple[str, str]]:
        """(key path, why) for settings present but unused by this method: warnings, not errors."""
        out = self._ignored_method_settings()
        if self.train.save != "steps" and _chosen(self.train, "save_steps"):
            out.append(("train.save_steps", f"ignored: save is {self.train.save}; set save: steps to use it"))
        if self.train.max_steps > 0 and _chosen(self.train, "epochs"):
            out.append(("train.epochs", "ignored: max_steps > 0 takes precedence over epochs"))
        return out

    def _ignored_method_settings(self) -> list[tuple[str, str]]:
        m, out = method(self.method.kind), []
        for section in get_args(Section):
            if getattr(self.method, section) is not None and m.section != section:
                users = kinds_using(section)
                only = " only" if len(users) == 1 else ""
                out.append((f"method.{section}", f"ignored: kind is {m.kind}, {section} settings apply to "
                            f"{spoken_list(users)}{only}"))
        if self.method.quantization is not None and m.quantization == "ignored":
            out.append(("method.quantization", f"ignored: {m.long_label} loads the base unquantized here"))
        if self.train.gradient_checkpointing and not m.checkpointable:
            out.append(("train.gradient_checkpointing", f"ignored: {m.long_label} keeps its virtual tokens in the "
                        "KV cache, which checkpointed layers drop; lower train.batch_size or data.max_length "
                        "to save memory instead"))
        return out


def _chosen(section: BaseModel, name: str) -> bool:
    """Written in the recipe with a value other than the default. A run's resolved recipe.yaml spells out
    every default, so presence alone would warn about settings nobody chose (e.g. in a re-launch draft)."""
    return name in section.model_fields_set and getattr(section, name) != type(section).model_fields[name].default
