"""Networks of one's own: a user's file in the tutorial's style, loaded (loading), checked (checks,
gradients) and trained by the harness like its built-in network (training)."""
