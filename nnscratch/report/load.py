"""A sweep folder read as the report needs it (through nnscratch.results)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from nnscratch import results


@dataclass
class Sweep:
    """One sweep's data as the report needs it."""

    path: Path
    name: str
    dataset: str
    axes: list[str]
    runs: pd.DataFrame
    histories: pd.DataFrame
    record: dict


def load_sweep(path: Path) -> Sweep:
    record = results.read_sweep(path)
    runs = results.read_results(path)
    return Sweep(
        Path(path), record["name"], results.dataset_of(path), record["axes"], runs, results.read_histories(path), record
    )
