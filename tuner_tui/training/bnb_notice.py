"""bitsandbytes' "Failed to load CPU gemm_4bit_forward ... No module named 'kernels'", said once, in words.

On CPUs with AVX512-BF16, importing bitsandbytes (peft imports it for every run, quantized or not) tries to
fetch an optional fused kernel for 4-bit matrix-vector products from the Hugging Face hub through the
`kernels` package, and logs a warning with a pip hint when it cannot. The fallback is bitsandbytes' own
built-in CPU kernel: same results, and it is only used when a 4-bit model generates (our sample answers),
never in a training step, which dequantizes. So the warning is silenced in every process that imports the
training package (the worker, `tuner try`, `tuner merge`), and a 4-bit run on CPU says it once, in words.

Standard library only: installed before bitsandbytes is imported (its logger is created by name, so the
filter is in place when the warning comes)."""

from __future__ import annotations

import logging

BNB_CPU_LOGGER = "bitsandbytes.backends.cpu.ops"
_MARKER = "Failed to load CPU gemm_4bit_forward"


class _MissingKernelFilter(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.swallowed = False

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith(_MARKER):
            self.swallowed = True
            return False
        return True


_FILTER = _MissingKernelFilter()


def install() -> None:
    """Idempotent: a logger holds a filter once."""
    logging.getLogger(BNB_CPU_LOGGER).addFilter(_FILTER)


def cpu_4bit_note() -> str | None:
    """The sentence a 4-bit run on CPU prints once, when bitsandbytes had to fall back; else None."""
    if not _FILTER.swallowed:
        return None
    return ("note: bitsandbytes uses its built-in CPU kernel for 4-bit sample generation (the optional faster "
            "one comes from the Hugging Face hub through the `kernels` package, which is not installed); "
            "training is unaffected")
