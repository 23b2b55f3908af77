"""Measurement tools, run by their entry points and tests only (no library module imports them):
bench.py (the trainer and the grid against their floors), scale.py (grids of 100,000 runs),
calibration.py (the verdict rule on synthetic seeds), logbench.py (what MLflow logging costs),
diagnosis_causes.py (diagnoses against the causes a grid built in), stops.py (every way a sweep is stopped)."""
