"""Textual only: the cockpit. Talks to runtime and domain, never to training."""
