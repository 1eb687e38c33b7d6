from __future__ import annotations

from dataclasses import replace

import pytest

from qianbao.scoring import registry
from qianbao.scoring.explain import score

from .conftest import german_params
from .test_card import KNOWN


def test_train_register_and_trace_old_scores(tmp_path, german):
    first = registry.train_and_register(
        tmp_path, german, german_params(), metrics={"auc_mean": 0.8}
    )
    assert registry.load_active(tmp_path) == first
    old_score = score(first, KNOWN)
    params = replace(german_params(), c=0.1)
    second = registry.train_and_register(tmp_path, german, params)
    assert second.version != first.version
    assert registry.active_version(tmp_path) == second.version
    assert registry.versions(tmp_path) == sorted([first.version, second.version])
    traced = registry.get(tmp_path, old_score.version)
    assert score(traced, KNOWN) == old_score
    assert traced.metrics == {"auc_mean": 0.8}
    registry.activate_version(tmp_path, first.version)
    assert registry.load_active(tmp_path).version == first.version


def test_same_training_writes_the_same_file(tmp_path, german):
    a = registry.train_and_register(tmp_path / "a", german, german_params())
    b = registry.train_and_register(tmp_path / "b", german, german_params())
    file_a = (tmp_path / "a" / f"{a.version}.json").read_bytes()
    file_b = (tmp_path / "b" / f"{b.version}.json").read_bytes()
    assert file_a == file_b
    registry.register(tmp_path / "a", a)  # idempotent


def test_registry_errors(tmp_path, card):
    with pytest.raises(registry.RegistryError) as err:
        registry.load_active(tmp_path)
    assert err.value.code == "SCORECARD_NONE_ACTIVE"
    with pytest.raises(registry.RegistryError) as err:
        registry.get(tmp_path, "../../etc/passwd")
    assert err.value.code == "SCORECARD_VERSION_INVALID"
    with pytest.raises(registry.RegistryError) as err:
        registry.get(tmp_path, "sc-000000000000")
    assert err.value.code == "SCORECARD_NOT_FOUND"
    path = registry.register(tmp_path, card, activate=False)
    path.write_text(path.read_text().replace(card.version, "sc-111111111111"))
    with pytest.raises(registry.RegistryError) as err:
        registry.get(tmp_path, card.version)
    assert err.value.code == "SCORECARD_CORRUPT"
