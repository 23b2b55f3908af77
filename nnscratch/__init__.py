"""nnscratch: a NumPy MLP taken apart one design decision at a time."""
