"""The worker side: the only package that imports torch/transformers/peft/trl/bitsandbytes/datasets.

It runs only inside the worker process (and in explicit model-preparation commands)."""

from tuner_tui.training import bnb_notice

# Before any submodule imports peft (which imports bitsandbytes): see bnb_notice for why.
bnb_notice.install()
