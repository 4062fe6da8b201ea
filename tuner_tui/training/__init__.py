"""The worker side: the only package that imports torch/transformers/peft/trl/bitsandbytes/datasets.

It runs only inside the worker process (and in explicit model-preparation commands)."""
