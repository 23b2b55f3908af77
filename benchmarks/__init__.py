"""Measurement tools, kept beside the package as scikit-learn keeps its benchmarks (nothing in nnscratch/
imports them; run from the repository root, `python -m benchmarks.<name>`):
bench.py (the benchmark: the grid against its floors, and the summary), floors.py (what the hardware
allows: peak SGEMM, bandwidth, FLOPs, the roofline), steps.py (one step and mini-batch training against
PyTorch and scikit-learn), scale.py (grids of 100,000 runs), calibration.py (the verdict rule on
synthetic seeds), logbench.py (what MLflow logging costs), diagnosis_causes.py (diagnoses against the
causes a grid built in), stops.py and stops_grid.py (every way a sweep is stopped), seed_cost.py (what
adaptive seeds would cost a folder), same_numbers.py (two sweep folders compared run for run),
planted_bugs.py (the network checks against planted bugs), sweep_floor.py (a sweep's wall time against the
floor of its own products), rounds.py (a sweep's rounds: wall time, idle workers, the ETA's accuracy),
design_frontier.py (look schedules and futility stops against power and seed targets)."""
