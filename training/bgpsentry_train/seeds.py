"""How much of a result is the model's seed: the same rows trained with
several LightGBM seeds, each model through the event-level evaluation and
the real-data runs.

    python -m bgpsentry_train.seeds --seeds 20240601,1,2,3 --md training/seeds.md

LightGBM's only randomness here is feature_fraction (each tree sees a
random 70% of the features), so models trained on the same rows with
other seeds differ, and so do their events. A change to the features,
the rows or the event layer is worth keeping when it moves the
distribution over seeds, not one model. For every seed this trains on the
cached rows of the pipeline (`pipeline --lgb-seed S --no-export`, nothing
committed is written), runs `events_eval` on the test streams with that
model (`score --model`) and the real-data runs of realdata.json (`--warmup
2m`, with and without baselines, judged by realdata_events' first look),
and writes one row per seed with the median and the range.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path

from . import config as cfgmod
from . import events_eval, pipeline, realdata, realdata_events

CLASSES = cfgmod.ATTACK_CLASSES


def seed_row(seed: int, logloss: float, synth: dict, real_totals: dict[str, int], real_elements: int) -> dict:
    """One seed's results: validation loss, per-class event recall (over
    instances announced by two peers or more) and precision on the
    synthetic test streams, look-alikes alerted, and the real-data events
    by first look."""
    row = {"seed": seed, "valid_logloss": logloss, "lookalike_rate": synth["lookalikes"]["alert_rate"]}
    for c in CLASSES:
        pc = synth["classes"][c]
        row[c] = (pc["recall_2peers"], pc["precision"])
    n = sum(real_totals.values())
    row["real_events"] = n
    row["real_true"] = real_totals.get("true", 0)
    row["real_false"] = real_totals.get("false", 0) + real_totals.get("likely false", 0)
    row["real_unverified"] = real_totals.get("unverified", 0)
    row["real_per_million"] = n * 1e6 / real_elements if real_elements else 0.0
    return row


def _cells(row: dict) -> list[str]:
    cells = [f"{row['valid_logloss']:.4f}"]
    cells += [f"{row[c][0]:.3f} / {row[c][1]:.3f}" for c in CLASSES]
    cells += [f"{100 * row['lookalike_rate']:.2f}%", str(row["real_events"]), str(row["real_true"]),
              str(row["real_false"]), str(row["real_unverified"]), f"{row['real_per_million']:.1f}"]
    return cells


def _summary(rows: list[dict], pick, fmt: str = ".3f") -> str:
    """min / median / max of a numeric field over the seeds."""
    v = [pick(r) for r in rows]
    return " / ".join(format(x, fmt) for x in (min(v), statistics.median(v), max(v)))


def markdown(rows: list[dict], chosen: int | None) -> str:
    """The seed table (the chosen seed, the one of pipeline.json, marked),
    then min / median / max of each figure."""
    head = ("| seed | valid logloss | " + " | ".join(f"{c} R / P" for c in CLASSES) +
            " | look-alikes | real events | true | false or likely false | unverified | per million |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        mark = " (chosen)" if r["seed"] == chosen else ""
        lines.append(f"| {r['seed']}{mark} | " + " | ".join(_cells(r)) + " |")
    if len(rows) > 1:
        lines += ["", "Min / median / max over the seeds:", ""]
        for c in CLASSES:
            lines.append(f"- {c}: recall {_summary(rows, lambda r: r[c][0])}, precision {_summary(rows, lambda r: r[c][1])}")
        lines.append(f"- look-alikes alerted (%): {_summary(rows, lambda r: 100 * r['lookalike_rate'], '.2f')}")
        lines.append(f"- real-data events: {_summary(rows, lambda r: r['real_events'], 'g')}; "
                     f"false or likely false {_summary(rows, lambda r: r['real_false'], 'g')}; "
                     f"per million {_summary(rows, lambda r: r['real_per_million'], '.1f')}")
    return "\n".join(lines) + "\n"


def run_seed(seed: int, cfg: cfgmod.Config, rd_cfg: dict, binary: Path, out: Path, jobs: int, ref, log) -> dict:
    work = out / "seeds" / str(seed)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    args = pipeline.parser().parse_args([
        "--config", cfg.source, "--bin", str(binary), "--out", str(out), "--lgb-seed", str(seed), "--no-export",
        "--report", str(work / "REPORT.md"), "--plots", str(work / "plots"), "--jobs", str(jobs)])
    summary = pipeline.run(args)
    model = work / "model"
    shutil.copytree(out / "model", model)
    logloss = float(summary["metrics"].get("valid_multi_logloss", float("nan")))
    log(f"seeds: {seed}: trained, validation logloss {logloss:.4f}")
    synth = events_eval.evaluate(cfg, binary, out, "test", model, [], jobs, log=lambda *a: None)
    extra = ["--warmup", "2m", "--model", str(model)]
    elements = realdata.run_all(str(binary), rd_cfg, work / "realdata", extra)["elements"]
    realdata.run_all(str(binary), rd_cfg, work / "realdata-nobase", extra, baseline=False)
    _, totals = realdata_events.judge(rd_cfg, work / "realdata", work / "realdata-nobase", ref)
    row = seed_row(seed, logloss, synth, totals, elements)
    (work / "row.json").write_text(json.dumps(row, indent=1) + "\n")
    log(f"seeds: {seed}: real-data events {row['real_events']} ({row['real_false']} false or likely false)")
    return row


MD_HEAD = """# Seed spread

Made by `make seeds` (`python -m bgpsentry_train.seeds`, training/bgpsentry_train/seeds.py):
the training rows of the pipeline trained again with each LightGBM seed below, everything
else as configured; each model's events on the synthetic test streams (as in
events-eval.md: recall over instances announced by at least two peers, event precision)
and on the real-data runs of realdata.json (with a 2-minute warm-up, judged as in
realdata-events.md: "false or likely false" counts both). The chosen seed is the one
pipeline.json trains the embedded model with, chosen on the validation loss.

"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cfgmod.add_run_args(ap, realdata=True)
    ap.add_argument("--seeds", default="20240601,1,2,3", help="comma-separated LightGBM seeds")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--md", type=Path, default=None, help="write the table to this Markdown file")
    ap.add_argument("--reuse", action="store_true", help="write the table from the rows of the last run (OUT/seeds/SEED/row.json), without training or scoring")
    a = ap.parse_args(argv)
    try:
        seeds = [int(s) for s in a.seeds.split(",") if s.strip()]
    except ValueError:
        ap.error(f"--seeds {a.seeds!r}: want comma-separated integers")
    if not seeds:
        ap.error("--seeds: no seed")
    cfg = cfgmod.load(a.config)
    rd_cfg = json.loads(a.realdata.read_text())
    ref = realdata_events.load_reference(rd_cfg)
    log = lambda *x: print(*x, file=sys.stderr, flush=True)  # noqa: E731
    if a.reuse:
        rows = []
        for s in seeds:
            f = a.out / "seeds" / str(s) / "row.json"
            if not f.exists():
                ap.error(f"--reuse: {f} not found (run without --reuse first)")
            row = json.loads(f.read_text())
            rows.append(row | {c: tuple(row[c]) for c in CLASSES})
    else:
        rows = [run_seed(s, cfg, rd_cfg, a.bin.resolve(), a.out.resolve(), a.jobs, ref, log) for s in seeds]
    chosen = cfg.train.seed if cfg.train.seed is not None else cfg.seed
    md = markdown(rows, chosen)
    print(md)
    if a.md is not None:
        a.md.write_text(MD_HEAD + md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
