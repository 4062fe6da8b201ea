"""Processes and files: the home layout, the run store, launching and following workers."""
