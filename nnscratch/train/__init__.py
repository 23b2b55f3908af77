"""Training: one full-batch iteration of the log's network written out (iteration.py: read it first);
gradient descent on MLPs that share their training data, a single run being a stack of one (stack.py);
one model inside a stack (model.py); dead inputs and units skipped exactly (skip.py); what a run
records (history.py)."""

from nnscratch.train.history import RunResult
from nnscratch.train.stack import REPORT_EVERY, Hooks, RunProgress, Stack, train, train_stack

__all__ = ["REPORT_EVERY", "Hooks", "RunProgress", "RunResult", "Stack", "train", "train_stack"]
