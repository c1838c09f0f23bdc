"""The shipped fine-tuning results match the recipe that claims to make them."""
import json
from pathlib import Path

import pytest

from lesson_lib.finetune import TASKS, make_task
from lesson_lib.recipes.finetune_results import RESULTS_PATH, SETTINGS, VARIANTS


@pytest.fixture(scope="module")
def results():
    return json.loads(Path(RESULTS_PATH).read_text(encoding="utf-8"))


def test_every_task_variant_and_seed_is_there_once(results):
    want = {(t, i, lam, s) for t in TASKS for i, lam in VARIANTS for s in SETTINGS["seeds"]}
    got = [(r["task"], r["init"], r["lam"], r["seed"]) for r in results["runs"]]
    assert sorted(got) == sorted(want)
    assert [tuple(v) for v in results["variants"]] == list(VARIANTS)


def test_settings_are_the_recipes(results):
    assert results["settings"] == {k: list(v) if isinstance(v, tuple) else v
                                   for k, v in SETTINGS.items()}


def test_accuracies_are_fractions_of_the_test_set(results):
    n = SETTINGS["n_test"]
    for r in results["runs"]:
        assert 0.0 <= r["accuracy"] <= 1.0
        assert abs(r["accuracy"] * n - round(r["accuracy"] * n)) < 0.02, r


def test_chance_is_the_data_sets_majority_rate(results):
    for task in TASKS:
        data = make_task(task, n_train=SETTINGS["n_train"], n_test=SETTINGS["n_test"],
                         seed=SETTINGS["data_seed"])
        assert results["chance"][task] == pytest.approx(data.chance)
