"""One module per part of the thesis; each runs as ``python -m experiments.NAME``."""
