"""The bgpsentry training pipeline, end to end:

  1. per background of the config: `bgpsentry inject` (attacks and benign
     look-alikes into a real update stream), then `bgpsentry featurize`
     (training rows, the serving feature code), cached behind a stamp;
  2. splits by background and by attacker AS (splits.py);
  3. LightGBM multiclass training, early stopping on valid (train.py);
  4. per-class thresholds on valid, metrics on test (evaluate.py);
  5. export: classifier/model/{model.txt,model.json} and the Go parity
     fixture testdata/model/bgpsentry/ (export.py);
  6. plots training/report/*.png and training/REPORT.md (report.py).

Run from the repository root, after `bash scripts/venv.sh` and
`go build -o dist/bgpsentry ./cmd/bgpsentry`:

  PYTHONPATH=training .venv/bin/python -m bgpsentry_train.pipeline \\
      --config training/pipeline.json --bin dist/bgpsentry --out training/out

Deterministic: the same binary, data and config give byte-identical
model.txt (fixed seeds, deterministic LightGBM, fixed thread count).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import lightgbm as lgb
import pandas as pd

from . import config as cfgmod
from . import evaluate, export, report, rows, splits, train
from .config import ATTACK_CLASSES, REPO_ROOT, SPLITS

FIXTURE_README = """# bgpsentry model parity fixture

Written by `training/bgpsentry_train/pipeline.py` (`make train`) with the
LightGBM pinned in `training/requirements.txt`: the model that was exported
to `classifier/model/` (model.txt, model.json, the same bytes) and
predictions.csv, {rows} rows of the test split with the live feature columns
(in model order), LightGBM's `raw_<class>` (predict(raw_score=True)) and
`prob_<class>` (predict()), written with %.17g so that Go parses exactly the
float64 Python used. The Go side checks that classifier/lgbm reproduces the
raw scores within 1e-9. Do not edit by hand; rerun the pipeline.
"""


def log(*a) -> None:
    print(*a, file=sys.stderr, flush=True)


def build_rows(cfg: cfgmod.Config, binary: Path, out: Path, jobs: int, tool: str) -> list[rows.BackgroundRun]:
    work = [(bg, r) for bg in cfg.backgrounds for r in range(bg.repeats)]

    def one(job):
        return rows.build_background(cfg, job[0], job[1], binary, out, tool, log=log)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
        runs = list(ex.map(one, work))
    for r in runs:
        state = "cached" if r.cached else f"{r.seconds:.1f} s"
        log(f"  {r.background.name}#{r.repeat} ({r.background.split}): {state}; {r.featurize_summary}")
    return runs


def run(args: argparse.Namespace) -> dict:
    t_all = time.monotonic()
    timings: dict[str, float] = {}
    cfg = cfgmod.load(args.config)
    binary = args.bin.resolve()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    if not binary.is_file():
        raise SystemExit(f"pipeline: {args.bin}: no such binary (go build -o dist/bgpsentry ./cmd/bgpsentry)")

    t = time.monotonic()
    version, schema_names, schema_src = rows.schema(binary)
    tool = rows.tool_fingerprint(args.source_root) + f"|schema {version} {schema_names}"
    log(f"pipeline: rows for {len(cfg.backgrounds)} backgrounds")
    runs = build_rows(cfg, binary, out, args.jobs, tool)
    df, names = rows.load_all(runs)
    timings["rows"] = time.monotonic() - t
    log(f"pipeline: {len(df)} rows, {len(names)} features")

    if schema_names is not None and schema_names != names:
        raise SystemExit(f"pipeline: the rows' feature columns differ from `{binary.name} featurize --schema` (stale rows? delete {out}/backgrounds)")
    fp = rows.fingerprint([r.rows_path for r in runs])

    t = time.monotonic()
    bg_split = {b.name: b.split for b in cfg.backgrounds}
    sp = splits.assign(df, bg_split, cfg.as_buckets)
    problems = splits.check_disjoint(df, sp.split)
    if problems:
        raise SystemExit("pipeline: split leak: " + "; ".join(problems[:5]))
    parts = {s: df[sp.split == s] for s in SPLITS}
    counts = sp.counts(df)
    log(f"pipeline: split rows {', '.join(f'{s} {len(parts[s])}' for s in SPLITS)}; dropped {sp.dropped_bucket} attack rows (attacker AS in another split's bucket), {sp.dropped_no_attacker} without attacker AS")
    for s in SPLITS:
        if parts[s].empty:
            raise SystemExit(f"pipeline: the {s} split is empty")

    log(f"pipeline: training (<= {cfg.train.max_rounds} rounds, {cfg.train.num_threads} thread(s))")
    lgb_seed = args.lgb_seed if args.lgb_seed is not None else cfg.train.seed if cfg.train.seed is not None else cfg.seed
    trained = train.train(parts["train"], parts["valid"], names, cfg.train, lgb_seed)
    timings["train"] = time.monotonic() - t
    log(f"pipeline: best round {trained.best_iteration} of {trained.rounds_run}, valid logloss {trained.valid_logloss:.5f}")

    t = time.monotonic()
    p_valid = evaluate.predict(trained.booster, parts["valid"], names)
    p_test = evaluate.predict(trained.booster, parts["test"], names)
    choices = evaluate.choose_thresholds(parts["valid"], p_valid, cfg.targets)
    thresholds = {c: choices[c].threshold for c in ATTACK_CLASSES}
    valid_eval = evaluate.evaluate(parts["valid"], p_valid, thresholds)
    test_eval = evaluate.evaluate(parts["test"], p_test, thresholds)
    met = evaluate.targets_met(test_eval, cfg.targets)
    timings["evaluate"] = time.monotonic() - t

    metrics: dict[str, float] = {}
    for c in ATTACK_CLASSES:
        metrics[f"test_precision_{c}"] = test_eval.per_class.loc[c, "precision"]
        metrics[f"test_recall_{c}"] = test_eval.per_class.loc[c, "recall"]
        metrics[f"valid_precision_{c}"] = choices[c].precision
        metrics[f"valid_recall_{c}"] = choices[c].recall
    metrics["test_lookalike_alert_rate"] = test_eval.lookalike_alert_rate
    metrics["test_background_alert_rate"] = test_eval.background_alert_rate
    metrics["valid_multi_logloss"] = trained.valid_logloss
    for s in SPLITS:
        metrics[f"{s}_rows"] = float(len(parts[s]))
    metrics["trees"] = float(train.tree_count(trained.model_text))
    meta = export.model_meta(trained.model_text, names, version, thresholds, metrics, fp)

    t = time.monotonic()
    n_parity = 0
    if not args.no_export:
        export.write_model(args.model_dir, trained.model_text, meta)
        prow = export.parity_rows(parts["test"], cfg.parity_rows, cfg.seed)
        n_parity = export.write_parity(args.fixture_dir, trained.model_text, meta, prow, names)
        (args.fixture_dir / "README.md").write_text(FIXTURE_README.format(rows=n_parity))
        log(f"pipeline: wrote {rows.display(args.model_dir)}/{{model.txt,model.json}} and {rows.display(args.fixture_dir)} ({n_parity} rows)")
    # The run's own copy, whatever --no-export says.
    export.write_model(out / "model", trained.model_text, meta)
    timings["export"] = time.monotonic() - t

    t = time.monotonic()
    imp = report.importance_table(trained, names)
    bg_rows = []
    for b in cfg.backgrounds:
        sub = df[df["background"] == b.name]
        bg_rows.append(
            {
                "background": b.name,
                "split": b.split,
                "files": "<br>".join(f"`{Path(f).name}`" for f in b.files),
                "baseline": "<br>".join(f"`{Path(f).name}`" for f in b.baseline) or "-",
                "warmup": b.warmup,
                "AS relationships": "file" if getattr(b, "featurize_asrel", True) else "inferred",
                "per_class": b.per_class,
                "repeats": b.repeats,
                "benign rows": int(((sub["label"] == "benign") & (sub["scenario"] == "")).sum()),
                "look-alikes": int(((sub["label"] == "benign") & (sub["scenario"] != "")).sum()),
                "attack rows": int((sub["label"] != "benign").sum()),
                "gated=0": int((sub["gated"] == 0).sum()),
                "note": b.note,
            }
        )
    timings["report"] = 0.0
    data = report.ReportData(
        cfg=cfg,
        config_path=rows.display(args.config),
        command=command_line(args),
        names=names,
        schema_version=version,
        schema_source=schema_src,
        split_counts=counts,
        dropped_bucket=sp.dropped_bucket,
        dropped_no_attacker=sp.dropped_no_attacker,
        dropped_by_background=sp.dropped_by_background,
        backgrounds=pd.DataFrame(bg_rows),
        trained=trained,
        choices=choices,
        valid_eval=valid_eval,
        test_eval=test_eval,
        importance=imp,
        fingerprint=fp,
        lightgbm_version=lgb.__version__,
        model_sha256=meta["model_sha256"],
        parity_rows=n_parity,
        timings=timings,
        met=met,
        test_df=parts["test"],
    )
    report.write_plots(data, parts["test"], p_test, args.plots)
    timings["report"] = time.monotonic() - t
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(report.markdown(data, args.report, args.plots))
    log(f"pipeline: wrote {rows.display(args.report)} and plots in {rows.display(args.plots)}")

    summary = {
        "rows": int(len(df)),
        "features": len(names),
        "split_rows": {s: int(len(parts[s])) for s in SPLITS},
        "dropped_bucket": sp.dropped_bucket,
        "dropped_no_attacker": sp.dropped_no_attacker,
        "best_iteration": trained.best_iteration,
        "thresholds": thresholds,
        "metrics": meta["metrics"],
        "targets_met": met,
        "data_fingerprint": fp,
        "model_sha256": meta["model_sha256"],
        "schema_version": version,
        "timings_seconds": {k: round(v, 2) for k, v in timings.items()},
        "seconds": round(time.monotonic() - t_all, 1),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    test_eval.per_scenario.to_csv(out / "test_per_scenario.csv", index=False)
    return summary


def command_line(args: argparse.Namespace) -> str:
    parts = ["--config", rows.display(args.config), "--bin", rows.display(args.bin), "--out", rows.display(args.out)]
    return "python -m bgpsentry_train.pipeline " + " ".join(shlex.quote(p) for p in parts)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="bgpsentry_train.pipeline", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=REPO_ROOT / "training" / "pipeline.json", help="pipeline configuration (default: training/pipeline.json)")
    ap.add_argument("--bin", type=Path, default=REPO_ROOT / "dist" / "bgpsentry", help="bgpsentry binary (default: dist/bgpsentry)")
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "training" / "out", help="work directory: rows, stamps, logs, summary.json (default: training/out)")
    ap.add_argument("--model-dir", type=Path, default=REPO_ROOT / "classifier" / "model", help="where model.txt and model.json go (default: classifier/model)")
    ap.add_argument("--fixture-dir", type=Path, default=REPO_ROOT / "testdata" / "model" / "bgpsentry", help="Go parity fixture directory (default: testdata/model/bgpsentry)")
    ap.add_argument("--report", type=Path, default=REPO_ROOT / "training" / "REPORT.md", help="Markdown report (default: training/REPORT.md)")
    ap.add_argument("--plots", type=Path, default=REPO_ROOT / "training" / "report", help="directory of the report's PNG plots (default: training/report)")
    ap.add_argument("--jobs", type=int, default=2, help="backgrounds injected/featurized at once (default: 2)")
    ap.add_argument("--source-root", type=Path, default=REPO_ROOT, help="Go sources --bin is built from; their hash keys the cached rows (default: the repository)")
    ap.add_argument("--lgb-seed", type=int, default=None,
                    help="LightGBM's seed alone (default: train.seed of the configuration, else its seed, which also drives the injection): "
                         "retrain on the same rows with other seeds to see how much of a difference is the model's variance")
    ap.add_argument("--no-export", action="store_true", help="do not write --model-dir and --fixture-dir (the run's copy still goes to OUT/model)")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        summary = run(args)
    except (cfgmod.ConfigError, rows.RowsError) as e:
        log(f"pipeline: {e}")
        return 1
    json.dump({k: summary[k] for k in ("split_rows", "thresholds", "metrics", "targets_met", "seconds")}, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
