"""tuner: a terminal cockpit and experiment tracker for fine-tuning LLMs."""

__version__ = "0.1.0"
