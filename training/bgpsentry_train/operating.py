"""Event-level operating points: what a quieter threshold costs.

The model's thresholds are chosen on validation rows (REPORT.md). What an
operator tunes is the event stream, so this module scores, at several
threshold floors, both what the issue's targets are measured on:

- the held-out synthetic test streams (events_eval: recall of injected
  attacks announced by at least two peers, and event precision), and
- the real-data runs (realdata: every real update file, no injection,
  2-minute warm-up, the configured baselines and as-org data): the events
  each class raises on real traffic, per million elements.

A floor L sets every class threshold to max(model threshold, L) with
`bgpsentry score --threshold CLASS=P`; `mp3` is the model's thresholds
with --min-peers 3. Origin and sub-prefix hijacks also open on weak
evidence (a majority of the vantage points ranking the class first, under
its threshold), which no floor changes: that is how the 2008 YouTube
hijack is found.

    python -m bgpsentry_train.operating --config training/pipeline.json \\
        --realdata training/realdata.json --bin dist/bgpsentry --out training/out \\
        --md training/operating-points.md --plot training/report/operating_points.png
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from . import config as cfgmod  # noqa: E402
from . import events_eval, realdata  # noqa: E402

CLASSES = cfgmod.ATTACK_CLASSES
TYPE_OF = {c: t for t, c in cfgmod.TYPE_CLASS.items()}
DEFAULT_LEVELS = ("model", "0.9", "0.95", "0.98", "0.99", "0.993", "0.995", "0.998", "0.999", "mp3")
_SAVE = {"dpi": 110, "metadata": {"Software": None}}


def level_flags(level: str, thresholds: dict[str, float]) -> list[str]:
    """score flags of an operating point: 'model' (the model's
    thresholds), 'mp3' (those and --min-peers 3), or a floor in (0, 1]."""
    if level == "model":
        return []
    if level == "mp3":
        return ["--min-peers", "3"]
    floor = float(level)
    if not 0 < floor <= 1:
        raise ValueError(f"threshold floor {level} is not in (0, 1]")
    flags = []
    for c in CLASSES:
        flags += ["--threshold", f"{c}={max(thresholds[c], floor):g}"]
    return flags


def point(level: str, synth: dict, real: list[dict], real_elements: int) -> list[dict]:
    """One row per class: synthetic recall (>= 2 peers) and precision, and
    the events of that type on the real-data runs."""
    rows = []
    for c in CLASSES:
        pc = synth["classes"][c]
        n = sum(r["by_type"].get(TYPE_OF[c], 0) for r in real)
        # No event at all: precision is undefined, not 0.
        prec = pc["precision"] if pc.get("events", 1) else float("nan")
        rows.append({"level": level, "class": c, "recall": pc["recall_2peers"], "precision": prec,
                     "real_events": n, "real_per_million": n * 1e6 / real_elements if real_elements else 0.0})
    return rows


def _floor(level: str) -> float:
    return 0.0 if level == "model" else float(level)


def _threshold_point(level: str) -> bool:
    """Whether an operating point is one of thresholds ('model' or a
    floor), not another setting such as 'mp3'."""
    return level == "model" or level.replace(".", "", 1).isdigit()


def choose(rows: list[dict], precision: float, keep: float = 0.5) -> dict[str, float]:
    """targets.event_floors from the rows of the validation streams: per
    class, the lowest threshold floor whose event precision reaches the
    target, if it keeps at least `keep` of the class's recall at the
    model's thresholds. No floor when the model's thresholds reach the
    target already, or when no floor does so within that budget: a floor
    that buys precision with most of a class's recall makes a detector
    that misses the attacks it exists for (and the 2-peer lab hijack of
    the peering tests)."""
    floors = {}
    for c in CLASSES:
        pts = sorted((r for r in rows if r["class"] == c and _threshold_point(r["level"])),
                     key=lambda r: _floor(r["level"]))
        base = next((r["recall"] for r in pts if r["level"] == "model"), None)
        for r in pts:
            if r["precision"] >= precision:  # NaN (no event) never is
                if r["level"] != "model" and (base is None or r["recall"] >= keep * base):
                    floors[c] = float(r["level"])
                break
    return floors


def youtube_found(events_dir: Path) -> bool:
    """Whether the 2008 YouTube hijack (208.65.153.0/24 by AS17557) is among
    the events of the real-data runs in events_dir."""
    for f in events_dir.glob("youtube*.jsonl"):
        for line in f.read_text().splitlines():
            if line.strip():
                e = json.loads(line)
                if e.get("prefix") == "208.65.153.0/24" and e.get("suspect_asn") == 17557:
                    return True
    return False


def markdown(rows: list[dict], meta: dict) -> str:
    th = ", ".join(f"{c} {meta['thresholds'][c]:.3f}" for c in CLASSES)
    out = [
        "# Event-level operating points",
        "",
        "Made by `make operating-points` (`python -m bgpsentry_train.operating`, "
        f"training/bgpsentry_train/operating.py). For each operating point: the synthetic "
        f"{meta.get('split', 'test')} streams through `bgpsentry score` (events-eval.md explains the matching; recall over "
        "instances announced by at least two peers) and the real-data runs of realdata.json (no "
        "injection; the events of each type, true ones included: the default point's are judged one "
        "by one in realdata-events.md). `model` is the model's thresholds "
        f"({th}); a number L sets every "
        "class threshold to max(model's, L) (`score --threshold`); `mp3` is the model's thresholds "
        "with `--min-peers 3`. Weak evidence (origin and sub-prefix hijacks only, a majority of the "
        "vantage points) opens alerts at every point.",
        "",
        f"Real-data elements: {meta['real_elements']:,}. Issue targets: recall >= 0.95 at precision >= 0.95 "
        "per class; at most 1 false event per million real elements (all classes together).",
        "",
        "| point | class | recall (>= 2 peers) | precision | real events | per million |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        prec = "-" if math.isnan(r["precision"]) else f"{r['precision']:.3f}"
        out.append(f"| {r['level']} | {r['class']} | {r['recall']:.3f} | {prec} | "
                   f"{r['real_events']} | {r['real_per_million']:.1f} |")
    out += ["", "| point | real events, all types (bogon origins included) | per million | YouTube 2008 found |",
            "|---|---|---|---|"]
    for lv in meta["levels"]:
        t = meta["totals"][lv]
        out.append(f"| {lv} | {t['events']} | {t['per_million']:.1f} | {'yes' if t['youtube'] else '**no**'} |")
    out.append("")
    out.append(f"![operating points]({meta.get('plot', 'report/operating_points.png')})")
    return "\n".join(out) + "\n"


def plot(rows: list[dict], path: Path) -> None:
    """Per class: recall and precision against the class's events on real
    traffic, the threshold points joined in order, other points apart."""
    fig, axes = plt.subplots(1, len(CLASSES), figsize=(16, 4.2), sharey=True)
    for ax, c in zip(axes, CLASSES):
        pts = [r for r in rows if r["class"] == c]
        line = sorted((r for r in pts if _threshold_point(r["level"])),
                      key=lambda r: _floor(r["level"]))
        other = [r for r in pts if r not in line]
        for sel, style in ((line, "-"), (other, "none")):
            if not sel:
                continue
            x = [r["real_per_million"] for r in sel]
            ax.plot(x, [r["recall"] for r in sel], marker="o", ls=style, color="C0",
                    label="recall (>= 2 peers)" if style == "-" else None)
            ax.plot(x, [r["precision"] for r in sel], marker="s", ls="--" if style == "-" else "none", color="C1",
                    label="precision" if style == "-" else None)
        for r in pts:
            ax.annotate(r["level"], (r["real_per_million"], r["recall"]), textcoords="offset points",
                        xytext=(3, 4), fontsize=7)
        ax.axhline(0.95, color="grey", lw=0.8, ls=":")
        ax.set_title(c)
        ax.set_xlabel("events of this type per million real elements")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("synthetic streams")
    axes[0].legend(fontsize=8, loc="lower right")
    fig.suptitle("Operating points: synthetic recall and precision against events on real traffic")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, **_SAVE)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cfgmod.add_run_args(ap, realdata=True)
    ap.add_argument("--model", type=Path, default=Path("classifier/model"), help="model directory (its thresholds are the 'model' point)")
    ap.add_argument("--levels", default=",".join(DEFAULT_LEVELS), help="comma-separated operating points")
    ap.add_argument("--split", default="test", choices=("valid", "test"),
                    help="synthetic streams to score: 'valid' to choose an operating point, 'test' to report it")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--md", type=Path, default=Path("training/operating-points.md"))
    ap.add_argument("--plot", type=Path, default=Path("training/report/operating_points.png"))
    a = ap.parse_args(argv)
    cfg = cfgmod.load(a.config)
    rd = json.loads(a.realdata.read_text())
    thresholds = json.loads((a.model / "model.json").read_text())["thresholds"]
    levels = [x.strip() for x in a.levels.split(",") if x.strip()]
    flags = {lv: level_flags(lv, thresholds) for lv in levels}  # refuse a bad level before any run
    rows, totals, real_elements = [], {}, 0
    for lv in levels:
        extra = ["--model", str(a.model.resolve())] + flags[lv]
        print(f"operating: {lv}: {' '.join(flags[lv]) or 'model thresholds'}", file=sys.stderr, flush=True)
        synth = events_eval.evaluate(cfg, a.bin.resolve(), a.out.resolve(), a.split, None, extra, a.jobs,
                                     log=lambda *x: None)
        rdir = a.out / "operating" / lv
        summary = realdata.run_all(str(a.bin), rd, rdir, ["--warmup", "2m"] + extra)
        real, real_elements = summary["runs"], summary["elements"]
        rows += point(lv, synth, real, real_elements)
        n = sum(r["events"] for r in real)
        totals[lv] = {"events": n, "per_million": n * 1e6 / real_elements if real_elements else 0.0,
                      "youtube": youtube_found(rdir)}
    meta = {"thresholds": thresholds, "real_elements": real_elements, "levels": levels, "totals": totals,
            "split": a.split, "plot": os.path.relpath(a.plot, a.md.parent)}
    floors = choose(rows, cfg.targets.precision)
    meta["floors"] = floors
    (a.out / f"operating_{a.split}.json").write_text(json.dumps({"rows": rows, "meta": meta}, indent=1) + "\n")
    print(f"operating: event floors reaching precision {cfg.targets.precision} on the {a.split} streams "
          f"(pipeline.json targets.event_floors): {json.dumps(floors)}", file=sys.stderr)
    a.md.write_text(markdown(rows, meta))
    plot(rows, a.plot)
    print(markdown(rows, meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
