"""nnscratch.claims.design: a claims file's `sequential:` and `confidence:` read as its exact binomial design,
the older {first_look, max_seeds} form, the futility stop, a check's own `rate:`, and each mistake refused
with a line naming the key."""

from __future__ import annotations

import pytest

from nnscratch.claims.design import DEFAULT_CONFIDENCE, confidence, design, design_for, futility_stop


def test_a_claims_file_without_sequential_gets_the_default_looks_and_spending():
    base = design({})
    assert (base.looks, base.spending, base.rate, base.futility) == ((3, 6, 10), "power 0.5", 0.5, None)
    assert base.level == DEFAULT_CONFIDENCE == 0.95
    assert 0 < base.error <= 1 - base.level  # the spending never exceeds the error the confidence allows


def test_the_files_own_looks_spending_and_confidence_are_used():
    base = design({"confidence": 0.9, "sequential": {"looks": [4, 8], "spending": "obrien_fleming"}})
    assert (base.level, base.looks, base.spending) == (0.9, (4, 8), "obrien_fleming")
    assert base.error <= 0.1


def test_the_older_first_look_max_seeds_form_looks_at_every_seed_count_between():
    assert design({"sequential": {"first_look": 3, "max_seeds": 6}}).looks == (3, 4, 5, 6)


def test_the_futility_stop_reads_a_mapping_a_bare_chance_or_null():
    assert futility_stop({"below": 0.1, "effect": 2}) == (0.1, 2.0)
    assert futility_stop(0.2) == (0.2, 1.4)
    assert futility_stop(None) == (None, 1.4)
    stopped = design({"sequential": {"looks": [3, 6, 10], "futility": {"below": 0.1}}})
    assert (stopped.futility, stopped.effect) == (0.1, 1.4)


@pytest.mark.parametrize(
    ("claims", "words"),
    [
        ({"sequential": {"looks": "3, 6"}}, "sequential.looks must list seed counts"),
        ({"sequential": {"looks": [3, True]}}, "sequential.looks must list seed counts"),
        ({"sequential": {"first_look": 5, "max_seeds": 3}}, "2 <= first_look <= max_seeds"),
        ({"sequential": {"futility": {"below": 0.1, "sds": 2}}}, "sequential.futility must be"),
        ({"sequential": {"futility": {"below": 0.1, "effect": -1}}}, "futility.effect must be a positive number"),
        ({"sequential": {"spending": "linear"}}, "sequential.spending must be one of"),
        ({"sequential": {"spending": "pocock"}}, "pocock is a t design"),
        ({"confidence": 1.5}, "confidence must be between 0 and 1"),
    ],
)
def test_each_mistake_in_the_design_is_refused_naming_its_key(claims, words):
    with pytest.raises(ValueError, match="claims file: ") as err:
        design(claims)
    assert words in str(err.value)


def test_a_checks_rate_keeps_the_files_looks_and_spending():
    base = design({"sequential": {"looks": [4, 8, 12]}})
    assert design_for({"what": "no rate"}, base) is base
    strict = design_for({"what": "most seeds", "rate": 0.8}, base)
    assert (strict.rate, strict.looks, strict.spending, strict.level) == (0.8, base.looks, base.spending, base.level)
    assert strict.statement() == "more than 80% of seeds pass"
    with pytest.raises(ValueError, match="check 'all': rate must be between 0 and 1"):
        design_for({"what": "all", "rate": 1}, base)


def test_confidence_defaults_and_reads_the_files_value():
    assert confidence({}) == DEFAULT_CONFIDENCE
    assert confidence({"confidence": "0.99"}) == 0.99
