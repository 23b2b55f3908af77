"""Measurement tools: the benchmark (bench.py) and the large-grid probe (scale.py). Nothing else imports them."""
