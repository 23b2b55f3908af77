"""The claims file's sequential design: the seed counts at which a cell is looked at, the error spending
and the confidence, for 'more than half of seeds pass' or a check's own `rate:` (nnscratch.stats)."""

from __future__ import annotations

from nnscratch.stats import BinomialDesign, binomial_design, spending_name

DEFAULT_CONFIDENCE = 0.95


DEFAULT_DESIGN = {"looks": [3, 6, 10], "spending": {"power": 0.5}, "futility": None}
DESIGN_EXAMPLE = "sequential: {looks: [3, 6, 10], spending: {power: 0.5}}"
MOST = 0.5  # a check without `rate:` states that more than half of seeds pass


def design(claims: dict) -> BinomialDesign:
    """The claims file's exact binomial design (`sequential: {looks, spending}`) at its confidence, for
    'more than half of seeds pass'; a check's own `rate:` uses the same looks and spending (design_for).
    The older form {first_look: a, max_seeds: b} looks at every seed count a..b."""
    given = claims.get("sequential") or {}
    if "looks" not in given and {"first_look", "max_seeds"} & set(given):
        first, last = given.get("first_look", 3), given.get("max_seeds", 20)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (first, last)) or not 2 <= first <= last:
            raise ValueError(
                f"claims file: sequential needs whole numbers 2 <= first_look <= max_seeds, got {first!r}, {last!r}"
                f" (or looks fixed in advance: {DESIGN_EXAMPLE})"
            )
        given = {"looks": list(range(first, last + 1)), "spending": DEFAULT_DESIGN["spending"]}
    given = DEFAULT_DESIGN | given
    looks = given["looks"]
    if not (isinstance(looks, list) and looks and all(isinstance(n, int) and not isinstance(n, bool) for n in looks)):
        raise ValueError(f"claims file: sequential.looks must list seed counts, not {looks!r}: {DESIGN_EXAMPLE}")
    below, effect = futility_stop(given["futility"])
    return binomial_design(confidence(claims), tuple(looks), spending_name(given["spending"]), MOST, below, effect)


def futility_stop(given) -> tuple[float | None, float]:
    """`sequential.futility` ({below: chance, effect: sds}, a bare chance, or null) as (below, effect)."""
    stop = given if isinstance(given, dict) else {"below": given}
    number = lambda v: isinstance(v, int | float) and not isinstance(v, bool)  # noqa: E731
    if set(stop) - {"below", "effect"} or not (stop.get("below") is None or number(stop["below"])):
        raise ValueError(f"claims file: sequential.futility must be {{below: 0.1, effect: 1.4}} or null, not {given!r}")
    if not (number(stop.get("effect", 1.4)) and stop.get("effect", 1.4) > 0):
        raise ValueError(f"claims file: sequential.futility.effect must be a positive number of sds, not {given!r}")
    below = stop.get("below")
    return (None if below is None else float(below)), float(stop.get("effect", 1.4))


def design_for(check: dict, base: BinomialDesign) -> BinomialDesign:
    """The design of one check: the file's looks and spending at the check's `rate:` (default: most seeds)."""
    rate = check.get("rate")
    if rate is None:
        return base
    if not (isinstance(rate, int | float) and 0 < rate < 1):
        raise ValueError(f"claims file: check '{check['what']}': rate must be between 0 and 1 (e.g. 0.9), got {rate!r}")
    return binomial_design(base.level, base.looks, base.spending, float(rate), base.futility, base.effect)


def confidence(claims: dict) -> float:
    level = float(claims.get("confidence", DEFAULT_CONFIDENCE))
    if not 0 < level < 1:
        raise ValueError(f"claims file: confidence must be between 0 and 1 (e.g. 0.95), got {level}")
    return level
