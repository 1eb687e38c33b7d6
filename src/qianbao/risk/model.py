"""The model score: gradient-boosted trees (LightGBM) or a logistic regression over
``features.NAMES``, trained by ``evaluate.train`` on the fraud simulator and stored as plain
JSON — trees as flat node arrays, a regression as raw coefficients — so a decision scores it in
pure Python with no library call on the hot path (a few dozen comparisons per tree)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qianbao.risk.features import NAMES

DEFAULT_PATH = Path(__file__).parent / "model" / "model.json"


@dataclass(frozen=True, slots=True)
class Tree:
    """Node ``i``: ``feature[i] < 0`` is a leaf worth ``value[i]``; else go ``left[i]`` when
    ``x[feature[i]] <= threshold[i]``, ``right[i]`` otherwise."""

    feature: tuple[int, ...]
    threshold: tuple[float, ...]
    left: tuple[int, ...]
    right: tuple[int, ...]
    value: tuple[float, ...]

    def score(self, x: list[float]) -> float:
        i = 0
        feature, threshold = self.feature, self.threshold
        while feature[i] >= 0:
            i = self.left[i] if x[feature[i]] <= threshold[i] else self.right[i]
        return self.value[i]


@dataclass(frozen=True, slots=True)
class Model:
    version: str
    names: tuple[str, ...]
    coef: tuple[float, ...]  # logistic: one weight per feature (empty for trees)
    intercept: float
    operating_point: float = 0.5  # the probability the rule file's ``operating_point`` means
    trees: tuple[Tree, ...] = field(default_factory=tuple)
    raw: Callable[[list[float]], float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "raw", _compile(self))

    def probability(self, x: list[float]) -> float:
        z = self.raw(x)
        if z < -30:
            return 0.0
        return 1.0 / (1.0 + math.exp(-z))

    def slow_raw(self, x: list[float]) -> float:
        """The raw score by walking the arrays (what ``raw``, compiled, must equal)."""
        z = self.intercept
        if self.trees:
            for tree in self.trees:
                z += tree.score(x)
        else:
            for w, v in zip(self.coef, x, strict=True):
                z += w * v
        return z

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "kind": "gbdt" if self.trees else "logistic",
            "names": list(self.names),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "operating_point": self.operating_point,
            "trees": [
                [list(t.feature), list(t.threshold), list(t.left), list(t.right), list(t.value)]
                for t in self.trees
            ],
        }


def _expression(tree: Tree, i: int = 0) -> str:
    if tree.feature[i] < 0:
        return repr(tree.value[i])
    left = _expression(tree, tree.left[i])
    right = _expression(tree, tree.right[i])
    return f"({left} if x{tree.feature[i]} <= {tree.threshold[i]!r} else {right})"


def _compile(model: Model) -> Callable[[list[float]], float]:
    """The raw score as one generated Python function: the features unpacked into locals
    ``x0, x1, ...``, each tree a nested conditional expression over them (our own arrays,
    numbers only), a regression a sum of products. Compiled once per model; several times
    faster than walking the arrays on the decision path."""
    if model.trees:
        terms = [_expression(t) for t in model.trees]
    else:
        terms = [f"{w!r} * x{i}" for i, w in enumerate(model.coef) if w]
    body = " + ".join([repr(model.intercept), *terms])
    unpack = "".join(f"x{i}, " for i in range(len(model.names)))
    namespace: dict[str, Any] = {}
    source = f"def raw(x):\n    {unpack}= x\n    return {body}\n"
    exec(source, {"__builtins__": {}}, namespace)  # noqa: S102
    raw: Callable[[list[float]], float] = namespace["raw"]
    return raw


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
    trees = tuple(
        Tree(
            tuple(map(int, f)),
            tuple(map(float, t)),
            tuple(map(int, lf)),
            tuple(map(int, rt)),
            tuple(map(float, v)),
        )  # numbers only: they become code
        for f, t, lf, rt, v in data.get("trees", [])
    )
    return Model(
        str(data["version"]),
        names,
        tuple(map(float, data["coef"])),
        float(data["intercept"]),
        float(data.get("operating_point", 0.5)),
        trees,
    )


def save(model: Model, path: Path = DEFAULT_PATH) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(model.to_json(), separators=(",", ":")) + "\n", encoding="utf-8")


def from_lightgbm(dump: dict[str, Any], version: str) -> Model:
    """Flatten ``Booster.dump_model()`` (numerical splits, ``<=``) into ``Tree`` arrays."""
    trees = []
    for info in dump["tree_info"]:
        nodes: list[list[Any]] = []

        def walk(node: dict[str, Any], nodes: list[list[Any]] = nodes) -> int:
            i = len(nodes)
            nodes.append([-1, 0.0, -1, -1, 0.0])
            if "leaf_index" in node or "split_feature" not in node:
                nodes[i][4] = float(node.get("leaf_value", 0.0))
                return i
            assert node.get("decision_type", "<=") == "<=", "only numerical <= splits"
            nodes[i][0] = int(node["split_feature"])
            nodes[i][1] = float(node["threshold"])
            nodes[i][2] = walk(node["left_child"])
            nodes[i][3] = walk(node["right_child"])
            return i

        walk(info["tree_structure"])
        trees.append(Tree(*(tuple(col) for col in zip(*nodes, strict=True))))
    return Model(version, NAMES, (), 0.0, trees=tuple(trees))
