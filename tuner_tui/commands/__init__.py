"""One module per group of CLI commands; each imports what it needs when it runs."""
