"""Real-data runs: `bgpsentry score` over every real update file (no
injection), for the "quiet on real traffic" part of the evaluation report.

    python -m bgpsentry_train.realdata --bin dist/bgpsentry --config training/realdata.json --out training/out/realdata

Writes one events file per run and summary.json (elements read, events by
type, events per million elements). The events are judged by hand in
training/REPORT.md ("Real-data runs").
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path


def run(bin_path: str, run_cfg: dict, out: Path, extra: list[str], baseline: bool = True, all_baselines: bool = False,
        reference: list[str] | None = None) -> dict:
    """One run of score; reference are the flags every run gets (the
    configuration's --asorg, as the training rows had it)."""
    name = run_cfg["name"]
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    events = out / f"{slug}.jsonl"
    cmd, use = command(bin_path, "score", str(events), run_cfg, extra, baseline, all_baselines, reference)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)}: exit {proc.returncode}\n{proc.stderr}")
    m = re.search(r"(\d+) elements read", proc.stderr)
    elements = int(m.group(1)) if m else 0
    evs = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
    by_type: dict[str, int] = {}
    for e in evs:
        by_type[e["type"]] = by_type.get(e["type"], 0) + 1
    return {
        "name": name,
        "slug": slug,
        "files": run_cfg["files"],
        "elements": elements,
        "baseline": run_cfg.get("baseline", []) if use else [],
        "events": len(evs),
        "by_type": by_type,
        "events_per_million": (len(evs) * 1e6 / elements) if elements else 0.0,
        "summary": proc.stderr.strip().splitlines()[-4:],
    }


def command(bin_path: str, sub: str, out: str, run_cfg: dict, extra: list[str], baseline: bool = True,
            all_baselines: bool = False, reference: list[str] | None = None) -> tuple[list[str], bool]:
    """The command of one run (bgpsentry sub, score or featurize, writing
    to out), and whether it uses the run's baselines."""
    cmd = [bin_path, sub, "-o", out] + (reference or [])
    use = baseline and (all_baselines or run_cfg.get("baseline_fits", True))
    for b in run_cfg.get("baseline", []) if use else []:
        cmd += ["--baseline", b]
    return cmd + extra + run_cfg["files"], use


def reference_flags(cfg: dict) -> list[str]:
    """score flags of the reference data every run of a realdata.json
    configuration gets: the as-org file the training rows were made with
    (pipeline.json), so that the real runs see the features the model
    learned from."""
    return ["--asorg", cfg["asorg"]] if cfg.get("asorg") else []


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default="dist/bgpsentry")
    ap.add_argument("--config", default="training/realdata.json")
    ap.add_argument("--out", default="training/out/realdata")
    ap.add_argument("--extra", default="", help="extra flags for score, space separated")
    ap.add_argument("--no-baseline", action="store_true",
                    help="bootstrap from the warm-up only, without the runs' baselines (most baselines are from "
                         "after the data: a prefix that changed hands in between looks hijacked)")
    ap.add_argument("--all-baselines", action="store_true",
                    help="use every run's baseline, also those more than 6 months from the data (baseline_fits false)")
    a = ap.parse_args(argv)
    cfg = json.loads(Path(a.config).read_text())
    summary = run_all(a.bin, cfg, Path(a.out), a.extra.split(), baseline=not a.no_baseline, all_baselines=a.all_baselines,
                      log=lambda *x: print(*x, file=sys.stderr))
    print(f"realdata: {summary['elements']} elements, {summary['events']} events ({summary['events_per_million']:.2f} per million)",
          file=sys.stderr)
    return 0


def run_all(bin_path: str, cfg: dict, out: Path, extra: list[str], baseline: bool = True, all_baselines: bool = False,
            log=lambda *x: None) -> dict:
    """run for every run of cfg (realdata.json) whose inputs exist, with
    its reference flags; writes out/summary.json and returns it."""
    out.mkdir(parents=True, exist_ok=True)
    reference = reference_flags(cfg)
    results = []
    for r in cfg["runs"]:
        if not all(Path(f).exists() for f in r["files"]):
            log(f"realdata: {r['name']}: input missing, skipped")
            continue
        res = run(bin_path, r, out, extra, baseline=baseline, all_baselines=all_baselines, reference=reference)
        log(f"realdata: {res['name']}: {res['elements']} elements, {res['events']} events {res['by_type']}")
        results.append(res)
    total_el = sum(r["elements"] for r in results)
    total_ev = sum(r["events"] for r in results)
    summary = {"runs": results, "elements": total_el, "events": total_ev,
               "events_per_million": total_ev * 1e6 / total_el if total_el else 0.0}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


if __name__ == "__main__":
    sys.exit(main())
