"""Pure Python: recipes, run records, events, estimates. Imports no textual, torch, transformers or pynvml."""
