"""What repairing a failed run may cost (the `repair` block of conf/train.yaml and sweep.yaml), and
`repair=true` on a command line. Light to import: the entry points read it before anything else."""

from __future__ import annotations

from dataclasses import dataclass

from nnscratch.config.checks import ConfigError


@dataclass(frozen=True)
class Budget:
    """What repairing one run may cost: tries, and iterations per try (None: the run's own)."""

    max_tries: int = 4
    iterations: int | None = None

    @classmethod
    def of(cls, settings: dict | bool | None) -> Budget:
        """The `repair` block of conf/train.yaml or sweep.yaml ({enabled, max_tries, iterations});
        ConfigError naming the key if a value cannot be used."""
        settings = settings if isinstance(settings, dict) else {}
        tries, iterations = settings.get("max_tries", 4), settings.get("iterations")
        if not (isinstance(tries, int) and not isinstance(tries, bool) and tries >= 1):
            raise ConfigError(f"repair.max_tries: must be a whole number >= 1, got {tries!r}")
        if iterations is not None and (
            isinstance(iterations, bool) or not (isinstance(iterations, int) and iterations >= 1)
        ):
            raise ConfigError(
                f"repair.iterations: must be null (the run's own) or a whole number >= 1, got {iterations!r}"
            )
        return cls(tries, iterations)


def shortcut(argv: list[str]) -> list[str]:
    """`repair=true` / `repair=false` on a command line as `repair.enabled=...` (the block's switch)."""
    return [f"repair.enabled={a.split('=', 1)[1]}" if a.lower() in ("repair=true", "repair=false") else a for a in argv]
