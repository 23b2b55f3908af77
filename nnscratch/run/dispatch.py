"""What a sweep hands its backend (nnscratch.run.loky, nnscratch.run.dask): its tasks, where their
records go, its parallel settings, and what counts and shows the runs as they end."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a Dask worker imports this module: neither Hydra's schema nor tqdm's bar
    from nnscratch.config.schema import Parallel
    from nnscratch.run.progress import Progress


@dataclass(frozen=True)
class Dispatch:
    """A sweep's tasks for a backend: `planned` (each a list of specs trained stacked, largest first),
    `runs_root` (the sweep's runs/), `parallel` (conf/parallel/'s block), `counts` (by status and
    outcome, added to as runs end) and `bar` (the progress bar they are shown on). `more()`, after
    each task, gives the tasks to add (overlapped adaptive rounds), whose data is among `data_of`'s
    specs (None: the planned tasks' specs)."""

    planned: list[list[dict]]
    runs_root: Path
    parallel: Parallel
    counts: Counter
    bar: Progress
    more: Callable[[], list[list[dict]]] | None = None
    data_of: list[dict] | None = None

    def data_specs(self) -> list[dict]:
        """Every spec whose data the backend prepares: `data_of`, else the planned tasks'."""
        return self.data_of or [s for t in self.planned for s in t]
