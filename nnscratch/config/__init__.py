"""A run's configuration: Hydra's compose wrapped (compose.py), the checks that run before any work
(checks.py), and a grid of cells turned into run specs (grid.py)."""
