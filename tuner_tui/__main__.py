"""`python -m tuner_tui` does what the `tuner` console script does."""

from tuner_tui.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
