"""The model registry: a directory of JSON cards and an ``active`` pointer.

``<dir>/<version>.json`` is written once and never changed (versions are content hashes, so
the same card always lands in the same file). ``<dir>/active`` holds the version the platform
scores with; switching it is an atomic rename. A stored score keeps the version that made it,
so :func:`get` can always show which card produced it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from qianbao.scoring.card import Scorecard, ScoringInputError

if TYPE_CHECKING:  # training pulls in pandas, scikit-learn and optbinning: load it on use
    from qianbao.scoring.data import Dataset
    from qianbao.scoring.train import TrainParams

DEFAULT_REGISTRY = Path("var/scorecards")
ACTIVE_FILE = "active"
VERSION_PATTERN = re.compile(r"^sc-[0-9a-f]{12}$")


class RegistryError(ScoringInputError):
    pass


def _path(directory: Path, version: str) -> Path:
    if not VERSION_PATTERN.match(version):
        raise RegistryError("SCORECARD_VERSION_INVALID", f"not a scorecard version: {version!r}")
    return directory / f"{version}.json"


def register(directory: str | Path, card: Scorecard, *, activate: bool = True) -> Path:
    """Store ``card`` (idempotent: same version, same bytes) and optionally make it active."""
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    target = _path(root, card.version)
    text = card.to_json()
    if target.exists():
        if target.read_text(encoding="utf-8") != text:
            raise RegistryError("SCORECARD_VERSION_CONFLICT", f"{target} differs from the card")
    else:
        _atomic_write(target, text)
    if activate:
        activate_version(root, card.version)
    return target


def activate_version(directory: str | Path, version: str) -> None:
    root = Path(directory)
    if not _path(root, version).is_file():
        raise RegistryError("SCORECARD_NOT_FOUND", f"no scorecard {version} in {root}")
    _atomic_write(root / ACTIVE_FILE, version + "\n")


def active_version(directory: str | Path) -> str:
    pointer = Path(directory) / ACTIVE_FILE
    if not pointer.is_file():
        raise RegistryError("SCORECARD_NONE_ACTIVE", f"no active scorecard in {directory}")
    return pointer.read_text(encoding="utf-8").strip()


def get(directory: str | Path, version: str) -> Scorecard:
    """A stored card by version: how an old score is traced to the card that made it."""
    path = _path(Path(directory), version)
    if not path.is_file():
        raise RegistryError("SCORECARD_NOT_FOUND", f"no scorecard {version} in {directory}")
    card = Scorecard.from_json(path.read_text(encoding="utf-8"))
    if card.version != version:
        raise RegistryError("SCORECARD_CORRUPT", f"{path} holds version {card.version}")
    return card


def load_active(directory: str | Path = DEFAULT_REGISTRY) -> Scorecard:
    return get(directory, active_version(directory))


def versions(directory: str | Path) -> list[str]:
    root = Path(directory)
    if not root.is_dir():
        return []
    return sorted(p.stem for p in root.glob("sc-*.json") if VERSION_PATTERN.match(p.stem))


def train_and_register(
    directory: str | Path,
    dataset: Dataset,
    params: TrainParams | None = None,
    *,
    metrics: dict[str, object] | None = None,
    activate: bool = True,
) -> Scorecard:
    """Train on the whole dataset, attach ``metrics`` (e.g. from evaluation) and store it."""
    from qianbao.scoring.train import fit_scorecard

    card = fit_scorecard(dataset, params)
    if metrics:
        card = card.with_metrics(dict(metrics))
    register(directory, card, activate=activate)
    return card


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
