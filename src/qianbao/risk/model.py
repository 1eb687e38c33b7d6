"""The model score: a logistic regression over ``features.NAMES``, trained by ``train.py`` on the
fraud simulator and stored as plain JSON (coefficients on standardised features folded into
raw ones), so a decision scores it with one dot product and no library on the hot path."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from qianbao.risk.features import NAMES

DEFAULT_PATH = Path(__file__).parent / "model" / "model.json"


@dataclass(frozen=True, slots=True)
class Model:
    version: str
    names: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float

    def probability(self, x: list[float]) -> float:
        z = self.intercept
        for w, v in zip(self.coef, x, strict=True):
            z += w * v
        if z < -30:
            return 0.0
        return 1.0 / (1.0 + math.exp(-z))

    def to_json(self) -> dict[str, object]:
        return {
            "version": self.version,
            "names": list(self.names),
            "coef": list(self.coef),
            "intercept": self.intercept,
        }


NO_MODEL = Model("none", NAMES, tuple(0.0 for _ in NAMES), -30.0)


def load(path: Path = DEFAULT_PATH) -> Model:
    """The trained model; a missing file is "no model" (scores 0). A file built for other
    features is refused: the model and the code must agree."""
    if not path.exists():
        return NO_MODEL
    data = json.loads(path.read_text(encoding="utf-8"))
    names = tuple(data["names"])
    if names != NAMES:
        raise ValueError(f"{path} was trained on other features: {names}")
    return Model(
        str(data["version"]), names, tuple(map(float, data["coef"])), float(data["intercept"])
    )


def save(model: Model, path: Path = DEFAULT_PATH) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(model.to_json(), indent=1) + "\n", encoding="utf-8")
