"""nnscratch.report.rounds: the adaptive rounds of a sweep as a section: which cells got extra seeds and why,
how many runs, why the rounds stopped, and each claim's verdict before and after."""

from __future__ import annotations

import pandas as pd

from nnscratch.report.load import Sweep
from nnscratch.report.rounds import cell_words, rounds_section


def sweep_of(record: dict) -> Sweep:
    return Sweep(None, "grid", "mnist", [], pd.DataFrame(), pd.DataFrame(), record)


def added(cell: dict, seeds: list[int], reason: str = "undecided") -> dict:
    return {"cell": cell, "seeds": seeds, "runs": [f"r{s}" for s in seeds], "reason": reason}


def test_a_cell_reads_as_words():
    assert cell_words({"weights": "zeros", "model.hidden": [10]}) == "weights = zeros, model.hidden = [10]"
    assert cell_words("weights=zeros") == "weights=zeros"  # an older sweep.json: as written


def test_a_sweep_without_rounds_has_no_section():
    assert rounds_section(sweep_of({})) is None
    assert rounds_section(sweep_of({"rounds": []})) is None


def test_two_rounds_list_each_cells_seeds_and_the_verdicts_before_the_first_and_after_the_last():
    record = {
        "adaptive": {"max_seeds": 12, "stopped": "every verdict decided"},
        "rounds": [
            {
                "round": 1,
                "cells": [added({"weights": "zeros"}, [3, 4, 5]), added({"weights": "he"}, [3, 4, 5], "contrast")],
                "verdicts_before": {"zeros": "inconclusive", "small": "inconclusive"},
                "verdicts_after": {"zeros": "inconclusive", "small": "supported"},
            },
            {
                "round": 2,
                "cells": [added({"weights": "zeros"}, [6, 7])],
                "verdicts_before": {"zeros": "inconclusive"},
                "verdicts_after": {"zeros": "refuted"},
            },
        ],
    }
    section = rounds_section(sweep_of(record))
    (_, cells), (_, changes) = section.tables
    assert cells.values.tolist() == [
        [1, "weights = zeros", "3, 4, 5", 3, "undecided"],
        [1, "weights = he", "3, 4, 5", 3, "contrast"],
        [2, "weights = zeros", "6, 7", 2, "undecided"],
    ]
    assert changes.values.tolist() == [["zeros", "INCONCLUSIVE", "REFUTED"], ["small", "INCONCLUSIVE", "?"]]
    assert section.text[0].startswith("Adaptive seeds (max 12 per cell): 2 rounds, 8 extra runs,")
    assert section.text[1] == "Stopped because: every verdict decided."


def test_one_round_that_did_not_finish_says_so():
    record = {
        "adaptive": {"max_seeds": 10},
        "rounds": [{"round": 1, "cells": [added({"seed": "x"}, [3])], "verdicts_before": {"a": "inconclusive"}}],
    }
    section = rounds_section(sweep_of(record))
    assert "10 per cell): 1 round, 1 extra runs" in section.text[0]
    assert section.text[1] == "Stopped because: the sweep did not finish its rounds."
    assert section.tables[1][1]["after"].tolist() == ["?"]
