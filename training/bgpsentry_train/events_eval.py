"""Event-level evaluation: what an operator sees.

The row metrics of evaluate.py judge single announcements. An operator
sees alert *events*: `bgpsentry score` groups the scored announcements of
one attack (many peers, many prefixes for a leak) into one event, opens it
only when enough peers carry it, and vetoes verdicts the routing data
contradicts. This module replays every injected stream of the chosen
splits through `bgpsentry score` exactly as a user would (the background
files plus the injected MRT, with the same baselines, relationships,
as-org data, VRPs and warm-up as featurize), then matches the events to
the injected instances (scenarios.json):

- an event *detects* an attack instance when its type is the instance's
  class, its suspect ASN is the instance's attacker (the hijacker, the
  forged neighbour, the leaker), one of its prefixes is one of the
  instance's prefixes, and it opened between the instance's first
  announcement (less a minute) and its last (plus two minutes);
- an event that detects an instance of its class is a true alert; one
  that overlaps an attack instance of another class, or with another
  suspect, is a wrong alert; one on a benign look-alike's prefix is a
  false alert on that look-alike; anything else is a false alert on the
  real background;
- instances whose attacker AS belongs to another split's AS bucket are
  real attacks in the stream but not test attacks: events on them are
  neither true nor false, and they are not in the recall;
- every stream is also scored without its injected MRT (the control
  run, same flags): an event that is not true and that the control run
  raises too (same type and suspect, a prefix in common, opened within
  two minutes) was there without the injection, so it is a false alert
  on the real background, whatever look-alike shares its prefixes. A
  session-reset look-alike re-announces up to 2,000 of a peer's routes,
  and that peer is on every path it sends, so without the control run
  any background event seen through that peer was blamed on the reset.

Recall is given over all instances and over the instances announced by at
least two peers (an event needs two, --min-peers: one peer alone is a
local event no collector-side detector can tell apart).

    python -m bgpsentry_train.events_eval --config training/pipeline.json \\
        --bin dist/bgpsentry --out training/out --split test
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import config as cfgmod
from . import misses, rows
from .config import ATTACK_CLASSES, TYPE_CLASS, event_time
from .splits import as_bucket

# Slack around an instance's announcement window when matching events.
EARLY_S = 60
LATE_S = 120


def score_command(cfg: cfgmod.Config, bg: cfgmod.Background, inj: Path, binary: Path, events: Path,
                  model: Path | None, extra: list[str], injected: bool = True, vetoed: Path | None = None) -> list[str]:
    """`bgpsentry score` with the inputs featurize had (rows._commands);
    without the injected MRT when not injected (the control run); the
    vetoed verdicts to vetoed when given."""
    cmd = [str(binary), "score", "--events", "final", "-o", str(events)]
    if vetoed is not None:
        cmd += ["--vetoed", str(vetoed)]
    if model is not None:
        cmd += ["--model", str(model)]
    if bg.featurize_asrel:
        cmd += ["--asrel", str(cfg.resolve(cfg.asrel))]
    if cfg.asorg:
        cmd += ["--asorg", str(cfg.resolve(cfg.asorg))]
    cmd += ["--rpki", str(inj / "vrps.json"), "--warmup", bg.warmup]
    for b in bg.baseline:
        cmd += ["--baseline", str(cfg.resolve(b))]
    cmd += extra
    cmd += [str(cfg.resolve(f)) for f in bg.files]
    if injected:
        cmd.append(str(inj / "injected.mrt"))
    return cmd


def _net(p: str):
    return ipaddress.ip_network(p, strict=False)


@dataclass
class RunResult:
    background: str
    repeat: int
    elements: int
    events: list[dict]
    instances: list[dict]
    # Events of the control run (the background without the injection).
    control: list[dict] = field(default_factory=list)
    # Filled by match().
    verdicts: list[str] = field(default_factory=list)  # per event
    detected: dict[int, str] = field(default_factory=dict)  # instance id -> event type that detected it


def job_inputs(cfg: cfgmod.Config, bg: cfgmod.Background, repeat: int, out: Path, who: str) -> tuple[Path, Path]:
    """The job directory of repeat of bg under out and its injection's
    directory; exits (naming who) when the injection is missing."""
    d = rows.job_dir(out, bg, repeat)
    inj = rows.inject_dir(cfg, bg, d)
    for f in rows.INJECT_FILES:
        if not (inj / f).exists():
            raise SystemExit(f"{who}: {inj / f} missing: run the training pipeline first (make train)")
    return d, inj


def scenarios(inj: Path) -> list[dict]:
    """The injected instances of an injection directory."""
    return json.loads((inj / "scenarios.json").read_text())["scenarios"]


def elements_read(score_stderr: str) -> int:
    """The elements a score run read, from its standard error (0 if not
    said)."""
    m = re.search(r"(\d+) elements read", score_stderr)
    return int(m.group(1)) if m else 0


def run_one(cfg: cfgmod.Config, bg: cfgmod.Background, repeat: int, binary: Path, out: Path,
            model: Path | None, extra: list[str], reuse: bool = False) -> RunResult:
    d, inj = job_inputs(cfg, bg, repeat, out, "events_eval")

    def score(name: str, injected: bool) -> tuple[list[dict], str]:
        events = d / f"{name}.jsonl"
        log = d / f"{name.replace('events', 'score')}.log"
        cmd = score_command(cfg, bg, inj, binary, events, model, extra, injected, d / "vetoed.jsonl" if injected else None)
        if reuse and events.exists() and log.exists():
            stderr = log.read_text()
        else:
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cfgmod.REPO_ROOT)
            log.write_text("$ " + " ".join(cmd) + "\n" + proc.stderr)
            if proc.returncode != 0:
                raise SystemExit(f"events_eval: score exited {proc.returncode} (log {log})")
            stderr = proc.stderr
        return [json.loads(line) for line in events.read_text().splitlines() if line.strip()], stderr

    evs, stderr = score("events", True)
    control, _ = score("events-control", False)
    return RunResult(bg.name, repeat, elements_read(stderr), evs, scenarios(inj), control)


# How far apart an event and its control-run twin may open.
CONTROL_SLACK_S = 120


def _in_control(ev: dict, control: list[dict]) -> bool:
    """Whether the control run (no injection) raised ev too: same type and
    suspect, a prefix in common, opened within CONTROL_SLACK_S."""
    t = event_time(ev["first_seen"])
    pfx = {str(_net(p)) for p in set(ev.get("prefixes") or []) | {ev["prefix"]}}
    for c in control:
        if c["type"] != ev["type"] or int(c.get("suspect_asn", 0)) != int(ev.get("suspect_asn", 0)):
            continue
        if abs(event_time(c["first_seen"]) - t) > CONTROL_SLACK_S:
            continue
        if pfx & {str(_net(p)) for p in set(c.get("prefixes") or []) | {c["prefix"]}}:
            return True
    return False


def _instance_window(inst: dict) -> tuple[float, float]:
    first = min((p["first_unix"] for p in inst.get("peers", [])), default=inst.get("start_unix", 0))
    last = max([inst.get("end_unix", 0)] + [p.get("withdraw_unix", 0) or p.get("last_unix", 0) for p in inst.get("peers", [])])
    return first - EARLY_S, last + LATE_S


def match(res: RunResult, buckets: cfgmod.ASBuckets, split: str) -> None:
    """Sets res.verdicts (per event: true, wrong, other_split,
    false_lookalike:SCENARIO, false_background) and res.detected."""
    by_prefix: dict[str, list[dict]] = {}
    for inst in res.instances:
        for p in misses.instance_prefixes(inst):
            by_prefix.setdefault(str(_net(p)), []).append(inst)
    res.verdicts = []
    for ev in res.events:
        cls = TYPE_CLASS.get(ev["type"], ev["type"])
        t = event_time(ev["first_seen"])
        prefixes = set(ev.get("prefixes") or []) | {ev["prefix"]}
        cands = []
        for p in prefixes:
            for inst in by_prefix.get(str(_net(p)), []):
                lo, hi = _instance_window(inst)
                if lo <= t <= hi and inst not in cands:
                    cands.append(inst)
        verdict = "false_background"
        hit = [i for i in cands if i["class"] == cls and int(i["attacker_asn"]) == int(ev.get("suspect_asn", 0))]
        if hit:
            own = [i for i in hit if buckets.split_of(as_bucket(i["attacker_asn"], buckets.modulus)) == split]
            if own:
                verdict = "true"
                for i in own:
                    res.detected.setdefault(i["id"], ev["type"])
            else:
                verdict = "other_split"
        else:
            # Other instances count only when the event's paths go
            # through their attacker (a leak event lists many prefixes,
            # and popular prefixes are in many instances).
            on_path = {int(a) for sp in ev.get("sample_paths", []) for a in sp.replace("{", " ").replace("}", " ").replace(",", " ").split()}
            rel = [i for i in cands if int(i["attacker_asn"]) in on_path]
            atk = [i for i in rel if i["class"] in ATTACK_CLASSES]
            if atk:
                if all(buckets.split_of(as_bucket(i["attacker_asn"], buckets.modulus)) != split for i in atk):
                    verdict = "other_split"
                else:
                    verdict = "wrong"
            elif rel and not _in_control(ev, res.control):
                verdict = "false_lookalike:" + rel[0]["scenario"]
        res.verdicts.append(verdict)


def summarize(results: list[RunResult], buckets: cfgmod.ASBuckets, split: str, min_peers: int = 2) -> dict:
    per_class: dict[str, dict] = {}
    for c in ATTACK_CLASSES:
        per_class[c] = {"instances": 0, "instances_2peers": 0, "detected": 0, "detected_2peers": 0,
                        "detected_any_type": 0, "events": 0, "true_events": 0, "false_events": 0,
                        "wrong_events": 0, "missed": []}
    look = {"instances": 0, "alerted": 0, "by_scenario": {}}
    bg_false: dict[str, dict] = {}
    for res in results:
        for inst in res.instances:
            cls = inst["class"]
            if cls in ATTACK_CLASSES:
                if buckets.split_of(as_bucket(inst["attacker_asn"], buckets.modulus)) != split:
                    continue
                pc = per_class[cls]
                npeers = len({p["addr"] for p in inst.get("peers", [])})
                pc["instances"] += 1
                pc["instances_2peers"] += npeers >= min_peers
                got = res.detected.get(inst["id"])
                if got is not None:
                    pc["detected"] += 1
                    pc["detected_2peers"] += npeers >= min_peers
                elif len(pc["missed"]) < 200:
                    pc["missed"].append({"background": res.background, "repeat": res.repeat, "id": inst["id"],
                                         "scenario": inst["scenario"], "peers": npeers,
                                         "prefixes": len(inst.get("prefixes", []))})
            else:
                sc = look["by_scenario"].setdefault(inst["scenario"], {"instances": 0, "alerted": 0})
                sc["instances"] += 1
                look["instances"] += 1
        alerted_look: set[int] = set()
        b = bg_false.setdefault(res.background, {"runs": 0, "elements": 0, "false_events": 0, "by_type": {}})
        b["runs"] += 1
        b["elements"] += res.elements
        for ev, v in zip(res.events, res.verdicts):
            cls = TYPE_CLASS.get(ev["type"], ev["type"])
            pc = per_class.get(cls)
            if pc is not None and v != "other_split":
                pc["events"] += 1
                if v == "true":
                    pc["true_events"] += 1
                elif v == "wrong":
                    pc["wrong_events"] += 1
                else:
                    pc["false_events"] += 1
            if v.startswith("false_lookalike:"):
                sc = v.split(":", 1)[1]
                # Count each look-alike instance once, whatever its events.
                for inst in res.instances:
                    if inst["scenario"] == sc and inst["class"] == "benign" and inst["id"] not in alerted_look:
                        if set(ev.get("prefixes") or [ev["prefix"]]) & set(inst.get("prefixes", [])):
                            alerted_look.add(inst["id"])
                            look["by_scenario"][sc]["alerted"] += 1
                            look["alerted"] += 1
                            break
            if v == "false_background":
                b["false_events"] += 1
                b["by_type"][ev["type"]] = b["by_type"].get(ev["type"], 0) + 1
    for pc in per_class.values():
        pc["recall"] = pc["detected"] / pc["instances"] if pc["instances"] else 0.0
        pc["recall_2peers"] = pc["detected_2peers"] / pc["instances_2peers"] if pc["instances_2peers"] else 0.0
        judged = pc["true_events"] + pc["false_events"] + pc["wrong_events"]
        pc["precision"] = pc["true_events"] / judged if judged else 0.0
    look["alert_rate"] = look["alerted"] / look["instances"] if look["instances"] else 0.0
    for b in bg_false.values():
        b["false_per_million"] = b["false_events"] * 1e6 / b["elements"] if b["elements"] else 0.0
    return {"split": split, "classes": per_class, "lookalikes": look, "backgrounds": bg_false}


def evaluate(cfg: cfgmod.Config, binary: Path, out: Path, split: str, model: Path | None = None,
             extra: list[str] | None = None, jobs: int = 2, log=print, reuse: bool = False, why: bool = False) -> dict:
    work = [(bg, r) for bg in cfg.backgrounds if bg.split == split and bg.per_class > 0 for r in range(bg.repeats)]

    def one(job):
        bg, r = job
        res = run_one(cfg, bg, r, binary, out, model, extra or [], reuse)
        match(res, cfg.as_buckets, split)
        log(f"  events {bg.name}#{r}: {len(res.events)} events, {res.verdicts.count('true')} true, "
            f"{sum(v.startswith('false') for v in res.verdicts)} false")
        return res

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
        results = list(ex.map(one, work))
    summary = summarize(results, cfg.as_buckets, split)
    summary["extra"] = extra or []
    if why:  # with the model's own thresholds only (extra may override them)
        summary["misses"] = explain_misses(cfg, results, out, split, model)
    return summary


def explain_misses(cfg: cfgmod.Config, results: list[RunResult], out: Path, split: str, model: Path | None) -> dict:
    """misses.explain with the model that scored (the embedded one,
    classifier/model, when model is None)."""
    import lightgbm as lgb

    mdir = model if model is not None else cfgmod.REPO_ROOT / "classifier" / "model"
    booster = lgb.Booster(model_file=str(mdir / "model.txt"))
    thresholds = json.loads((mdir / "model.json").read_text())["thresholds"]
    names = booster.feature_name()
    dirs = {(bg.name, r): rows.job_dir(out, bg, r) for bg in cfg.backgrounds for r in range(bg.repeats)}
    return misses.explain(results, lambda a: cfg.as_buckets.split_of(as_bucket(a, cfg.as_buckets.modulus)), split, dirs,
                          lambda df: booster.predict(df[names].to_numpy(dtype=float)), thresholds)


def markdown(summary: dict, targets: cfgmod.Targets) -> str:
    lines = [
        "| class | instances | recall | recall (>= 2 peers) | events | true | wrong class/suspect | false | precision | target met |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c, pc in summary["classes"].items():
        met = pc["recall_2peers"] >= targets.recall and pc["precision"] >= targets.precision
        lines.append(f"| {c} | {pc['instances']} | {pc['recall']:.3f} | {pc['recall_2peers']:.3f} of {pc['instances_2peers']} | "
                     f"{pc['events']} | {pc['true_events']} | {pc['wrong_events']} | {pc['false_events']} | {pc['precision']:.3f} | "
                     f"{'yes' if met else 'no'} |")
    look = summary["lookalikes"]
    lines += ["", f"Benign look-alike instances alerted: **{look['alerted']} of {look['instances']} ({100 * look['alert_rate']:.2f}%)** "
              f"(target < {100 * targets.lookalike_alert_rate:.0f}%).", "",
              "| look-alike | instances | alerted |", "|---|---|---|"]
    for sc, v in sorted(look["by_scenario"].items()):
        lines.append(f"| {sc} | {v['instances']} | {v['alerted']} |")
    lines += ["", "| background (real traffic) | runs | elements | false events | per million | by type |", "|---|---|---|---|---|---|"]
    for name, b in summary["backgrounds"].items():
        bt = ", ".join(f"{k} {v}" for k, v in sorted(b["by_type"].items())) or "-"
        lines.append(f"| {name} | {b['runs']} | {b['elements']:,} | {b['false_events']} | {b['false_per_million']:.1f} | {bt} |")
    return "\n".join(lines) + "\n"


MD_HEAD = """# Event-level evaluation ({split} split)

Made by `make events-eval` (`python -m bgpsentry_train.events_eval`, training/bgpsentry_train/events_eval.py)
from the injected streams of the training pipeline: every {split} background with each
injection repeat, through `bgpsentry score` with the inputs featurize had (baselines,
relationships, as-org data, the injection's VRPs, the warm-up; extra flags: {extra}), and the
events matched to the injected instances. An event is **true** when its type is the
instance's class, its suspect the instance's attacker, one of its prefixes the
instance's and it opened during the instance (from a minute before its first
announcement to two minutes after its last); **wrong** when its paths go through the
attacker of an attack instance on its prefixes but it names another class or suspect;
**false** otherwise: on the real background when the same stream scored without its
injection (the control run) raises the event too, else on a benign look-alike whose
prefixes and attacker it touches, else on the real background. Attack
instances whose attacker AS hashes into another split's bucket are in the streams but
not in these numbers. Recall is given over all instances and over those announced by at
least two peers: an event needs two (`--min-peers`), and a hijack seen by one vantage
point is a local event a collector-side detector cannot tell apart.

"""
MD_TAIL = """
Per million elements: false events on the real background of the test streams (the
injected elements are in the count too).
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=Path("training/pipeline.json"))
    ap.add_argument("--bin", type=Path, default=Path("dist/bgpsentry"))
    ap.add_argument("--out", type=Path, default=Path("training/out"))
    ap.add_argument("--model", type=Path, default=None, help="model directory (default: the binary's embedded model)")
    ap.add_argument("--split", default="test", choices=("train", "valid", "test"))
    ap.add_argument("--extra", default="", help="extra flags for score, space separated")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--md", type=Path, default=None, help="also write the tables, with their explanation, to this Markdown file")
    ap.add_argument("--reuse", action="store_true", help="match the events files of the last run again, without running score")
    a = ap.parse_args(argv)
    cfg = cfgmod.load(a.config)
    summary = evaluate(cfg, a.bin.resolve(), a.out.resolve(), a.split, a.model, a.extra.split(), a.jobs,
                       log=lambda *x: print(*x, file=sys.stderr, flush=True), reuse=a.reuse,
                       why=not any(x.startswith("--threshold") for x in a.extra.split()))
    path = a.out / f"events_{a.split}.json"
    path.write_text(json.dumps(summary, indent=1) + "\n")
    md = markdown(summary, cfg.targets)
    why = "\n" + misses.markdown(summary["misses"]) if summary.get("misses") else ""
    print(md + why)
    if a.md is not None:
        a.md.write_text(MD_HEAD.format(split=a.split, extra=" ".join(summary["extra"]) or "none") + md + MD_TAIL + why)
    return 0


if __name__ == "__main__":
    sys.exit(main())
