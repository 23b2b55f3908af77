"""nnscratch.run.repair_budget: the repair block read into a Budget, and repair=true on a command line."""

import pytest

from nnscratch.config.checks import ConfigError
from nnscratch.run.repair_budget import Budget, shortcut


@pytest.mark.parametrize("settings", [None, True, {}, {"enabled": True}])
def test_no_numbers_give_the_default_budget(settings):
    assert Budget.of(settings) == Budget(max_tries=4, iterations=None)


def test_the_block_sets_tries_and_iterations():
    assert Budget.of({"enabled": True, "max_tries": 2, "iterations": 300}) == Budget(2, 300)


@pytest.mark.parametrize(
    "block, message",
    [
        ({"max_tries": 0}, "repair.max_tries: must be a whole number >= 1, got 0"),
        ({"max_tries": True}, "repair.max_tries: must be a whole number >= 1, got True"),
        ({"max_tries": 2.5}, "repair.max_tries: must be a whole number >= 1, got 2.5"),
        ({"iterations": 0}, "repair.iterations: must be null (the run's own) or a whole number >= 1, got 0"),
        ({"iterations": False}, "repair.iterations: must be null (the run's own) or a whole number >= 1, got False"),
        ({"iterations": "300"}, "repair.iterations: must be null (the run's own) or a whole number >= 1, got '300'"),
    ],
)
def test_an_unusable_value_is_named(block, message):
    with pytest.raises(ConfigError) as err:
        Budget.of(block)
    assert str(err.value) == message


def test_repair_true_on_a_command_line_is_the_blocks_switch():
    argv = ["sweep=smoke", "repair=true", "Repair=False", "repair.max_tries=2", "repair=maybe"]
    assert shortcut(argv) == [
        "sweep=smoke",
        "repair.enabled=true",
        "repair.enabled=False",
        "repair.max_tries=2",
        "repair=maybe",
    ]
