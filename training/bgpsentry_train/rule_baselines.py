"""Rule baselines: what the detectors operators run today report on the
same streams as the model, through the same matching.

    python -m bgpsentry_train.rule_baselines --md training/rule-baselines.md

The rules (ANCHORS.md describes the detectors) read the feature rows of
`bgpsentry featurize`, made with exactly the inputs `score` gets in
events-eval (test streams, with their control runs) and in the real-data
runs (realdata.json, warm-up 2m), so that a rule and the model see the
same state: the same origins, links, relationships (the file, or inferred
from the inputs) and RPKI data. Each rule is applied to every announcement
the state scores (featurize's gated rows: a new origin or link, a young
one, or a changed path with a valley or an RPKI-invalid origin; the rules
need one of these), and its flagged announcements are grouped into events:

- ``hijack-monitor`` (BGPalerter's hijack monitor, on every prefix): an
  announcement with an origin the prefix never had in the state
  (ORIGIN_HIJACK), or of a new prefix whose covering prefix has another
  origin (SUBPREFIX_HIJACK); not when RPKI-valid (what its users ask
  for). One event per (type, prefix, origin), opened at the third peer
  (BGPalerter's thresholdMinPeers).
- ``upstream-monitor`` (BGPalerter's new-upstream monitor, on every AS;
  ARTEMIS's type-1 path hijack): an announcement whose origin-adjacent link
  the state never saw before the run brought it (PATH_HIJACK, suspect the
  new neighbour). One event per (prefix, neighbour), at the third peer.
- ``hairpin-leak`` (Cloudflare Radar): a valley-free violation of RFC
  7908 type 1 (learned from a provider, sent to a provider) under the
  relationships. One event per leaker, opened once it covers 10 prefixes
  at 2 peers (the model's own --min-leak-prefixes and --min-peers).
- ``valley-leak``: the same with every type of valley (RFC 7908 types 1-4
  and valleys over a link of unknown relationship).

An event is judged as events-eval judges the model's (events_eval.match:
true, wrong, false on a look-alike or on the real background). A rule
event never resolves: one per key and run, which can only help a rule's
precision against the model's, whose events resolve and may open again.
Peers are counted by their ASN (featurize rows carry the peer's ASN, not
its address), which can only delay a rule's events.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import signal
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable

from . import config as cfgmod
from . import events_eval as ee

# Rule parameters (module docstring).
HIJACK_MIN_PEERS = 3
LEAK_MIN_PEERS = 2
LEAK_MIN_PREFIXES = 10
MAX_EVENT_PREFIXES = 1000

RULES = ("hijack-monitor", "upstream-monitor", "hairpin-leak", "valley-leak")
RULE_CLASSES = {"hijack-monitor": ("origin_hijack", "subprefix_hijack"), "upstream-monitor": ("path_hijack",),
                "hairpin-leak": ("route_leak",), "valley-leak": ("route_leak",)}
LEAK_HAIRPIN = 1  # features/asrel LeakHairpin

# The columns the rules read.
NEEDED = ("origin_for_prefix_age_hours", "prefix_seen_before", "covering_present",
          "covering_origin_match", "rpki_valid", "origin_link_new", "leak_type", "valley_violation",
          "time", "peer_asn", "prefix", "origin_asn", "suspect_asn", "path")


def _rfc3339(t: int) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def last_link(path: str) -> tuple[int, int] | None:
    """The origin-adjacent link (neighbour, origin) of an AS path string
    (prepending removed), or None when the path has an AS set or one AS."""
    uniq: list[int] = []
    for tok in path.split():
        if not tok.isdigit():
            return None
        a = int(tok)
        if not uniq or uniq[-1] != a:
            uniq.append(a)
    return (uniq[-2], uniq[-1]) if len(uniq) >= 2 else None


def flags(row: dict, new_links: set, hijacks: dict) -> list[tuple[str, str, int]]:
    """(rule, event type, suspect) of every rule that flags one feature
    row (a dict of featurize's columns, as strings or numbers), given in
    time order; new_links holds the origin-adjacent links the rows brought
    up so far, hijacks the type of each (prefix, origin) flagged so far
    (both updated)."""
    f = lambda k: float(row[k])  # noqa: E731
    out = []
    # An origin the prefix did not have (at the announcement that brought
    # it: for the later peers the state knows it), or a new prefix under
    # another origin's; each (prefix, origin) keeps the type it came with.
    hk = (row["prefix"], int(f("origin_asn")))
    typ = hijacks.get(hk)
    if typ is None and f("origin_for_prefix_age_hours") == -1:
        if f("prefix_seen_before") == 1:
            typ = hijacks[hk] = "ORIGIN_HIJACK"
        elif f("covering_present") == 1 and f("covering_origin_match") == 0:
            typ = hijacks[hk] = "SUBPREFIX_HIJACK"
    if typ is not None and f("rpki_valid") != 1:
        out.append(("hijack-monitor", typ, hk[1]))
    # The origin-adjacent link of the path, when it came up after the
    # warm-up: the state flags it at its first announcement only (then it
    # is known), so the rule keeps it as new for the rest of the run.
    up = last_link(row["path"])
    if f("origin_link_new") == 1 and up is not None:
        new_links.add(up)
    if up is not None and up in new_links:
        out.append(("upstream-monitor", "PATH_HIJACK", up[0]))
    lt = f("leak_type")
    if f("valley_violation") == 1 and lt > 0:
        leaker = int(f("suspect_asn"))
        if lt == LEAK_HAIRPIN:
            out.append(("hairpin-leak", "ROUTE_LEAK", leaker))
        out.append(("valley-leak", "ROUTE_LEAK", leaker))
    return out


@dataclass
class _Group:
    peers: set = field(default_factory=set)
    prefixes: dict = field(default_factory=dict)  # insertion-ordered set
    paths: list = field(default_factory=list)
    event: dict | None = None


def rule_events(rows_: Iterable[dict], hijack_min_peers: int = HIJACK_MIN_PEERS) -> dict[str, list[dict]]:
    """The events of every rule over feature rows in time order: event
    dicts of score's form (type, prefix, prefixes, suspect_asn,
    first_seen, last_seen, peer_count, sample_paths)."""
    groups: dict[tuple, _Group] = {}
    events: dict[str, list[dict]] = {r: [] for r in RULES}
    new_links: set = set()
    hijacks: dict = {}
    for row in rows_:
        for rule, typ, suspect in flags(row, new_links, hijacks):
            leak = typ == "ROUTE_LEAK"
            key = (rule, typ, suspect) if leak else (rule, typ, row["prefix"], suspect)
            g = groups.setdefault(key, _Group())
            t = int(float(row["time"]))
            g.peers.add(row["peer_asn"])
            if len(g.prefixes) < MAX_EVENT_PREFIXES:
                g.prefixes[row["prefix"]] = None
            if len(g.paths) < 5 and row["path"] not in g.paths:
                g.paths.append(row["path"])
            if g.event is None:
                opens = (len(g.peers) >= LEAK_MIN_PEERS and len(g.prefixes) >= LEAK_MIN_PREFIXES) if leak \
                    else len(g.peers) >= hijack_min_peers
                if not opens:
                    continue
                first = next(iter(g.prefixes))
                g.event = {"type": typ, "prefix": first, "suspect_asn": suspect, "first_seen": _rfc3339(t)}
                events[rule].append(g.event)
            g.event.update({"prefixes": list(g.prefixes), "last_seen": _rfc3339(t), "peer_count": len(g.peers),
                            "sample_paths": list(g.paths)})
    return events


def featurize_rows(cmd: list[str], hijack_min_peers: int = HIJACK_MIN_PEERS) -> dict[str, list[dict]]:
    """Runs a featurize command writing to standard output and returns the
    rules' events over its rows. Its standard error goes to a temporary
    file (a pipe read after the rows could fill and stall it)."""
    with tempfile.TemporaryFile() as errf:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf, cwd=cfgmod.REPO_ROOT)
        assert proc.stdout is not None
        reader = csv.DictReader(io.TextIOWrapper(proc.stdout, encoding="utf-8", newline=""))
        missing = [c for c in NEEDED if c not in (reader.fieldnames or [])]
        evs = {} if missing else rule_events(({k: r[k] for k in NEEDED} for r in reader), hijack_min_peers)
        proc.stdout.close()  # a writer still going stops (SIGPIPE)
        rc = proc.wait()
        # Stopped by the closed pipe (a process, or a shell whose pipeline
        # it was) when the rows were not read: the columns are the news.
        cut = missing and rc in (-signal.SIGPIPE, 128 + signal.SIGPIPE)
        if rc != 0 and not cut:
            errf.seek(0)
            raise SystemExit(f"rule_baselines: {' '.join(cmd)}: exit {rc}\n{errf.read().decode()}")
        if missing:
            raise SystemExit(f"rule_baselines: featurize rows lack the columns {missing} ({' '.join(cmd)})")
    return evs


def to_featurize(score_cmd: list[str]) -> list[str]:
    """A score command of events-eval or realdata as the featurize command
    with the same state inputs, writing rows to standard output."""
    out = [score_cmd[0], "featurize", "-o", "-"]
    skip_value = {"-o", "--events", "--vetoed", "--model"}
    i = 2
    while i < len(score_cmd):
        a = score_cmd[i]
        if a in skip_value:
            i += 2
            continue
        out.append(a)
        i += 1
    return out


def test_streams(cfg: cfgmod.Config, binary: Path, out: Path, split: str, jobs: int = 2, log=print,
                 hijack_min_peers: int = HIJACK_MIN_PEERS) -> dict[str, dict]:
    """The rules over events-eval's streams of split (with control runs):
    events_eval.summarize per rule."""
    work = [(bg, r) for bg in cfg.backgrounds if bg.split == split and bg.per_class > 0 for r in range(bg.repeats)]

    def one(job):
        bg, r = job
        d, inj = ee.job_inputs(cfg, bg, r, out, "rule_baselines")
        evs = featurize_rows(to_featurize(ee.score_command(cfg, bg, inj, binary, Path("-"), None, [], True)), hijack_min_peers)
        control = featurize_rows(to_featurize(ee.score_command(cfg, bg, inj, binary, Path("-"), None, [], False)),
                                    hijack_min_peers)
        # Elements as score counts them (events-eval's log of this job).
        elements = ee.elements_read((d / "score.log").read_text()) if (d / "score.log").exists() else 0
        sc = ee.scenarios(inj)
        res = {}
        for rule in RULES:
            rr = ee.RunResult(bg.name, r, elements, evs[rule], sc, control[rule])
            ee.match(rr, cfg.as_buckets, split)
            res[rule] = rr
        log(f"  rules {bg.name}#{r}: " + ", ".join(f"{k} {len(v.events)}" for k, v in res.items()))
        return res

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as ex:
        results = list(ex.map(one, work))
    return {rule: ee.summarize([res[rule] for res in results], cfg.as_buckets, split) for rule in RULES}


def real_data(binary: Path, realcfg: dict, warmup: str = "2m", log=print, hijack_min_peers: int = HIJACK_MIN_PEERS) -> dict[str, dict]:
    """The rules over the real-data runs (realdata.json, the flags of
    realdata.run): per rule, events by run and type."""
    from . import realdata

    reference = realdata.reference_flags(realcfg)
    out: dict[str, dict] = {rule: {"runs": {}, "events": 0, "by_type": {}} for rule in RULES}
    elements = 0
    for r in realcfg["runs"]:
        if not all(Path(f).exists() for f in r["files"]):
            continue
        cmd, _ = realdata.command(str(binary), "featurize", "-", r, ["--warmup", warmup], reference=reference)
        evs = featurize_rows(cmd, hijack_min_peers)
        for rule in RULES:
            o = out[rule]
            o["runs"][r["name"]] = [{k: e[k] for k in ("type", "prefix", "suspect_asn", "first_seen", "peer_count")}
                                   | {"prefix_count": len(e["prefixes"])} for e in evs[rule]]
            o["events"] += len(evs[rule])
            for e in evs[rule]:
                o["by_type"][e["type"]] = o["by_type"].get(e["type"], 0) + 1
        log(f"  rules {r['name']}: " + ", ".join(f"{k} {len(v)}" for k, v in evs.items()))
    return out


def markdown(model: dict, rules: dict[str, dict], real: dict[str, dict], model_real: dict, elements: int,
             youtube: dict[str, bool], model_runs: dict[str, list[dict]]) -> str:
    """The comparison tables: per class on the synthetic streams, and per
    detector on the real-data runs."""
    lines = ["# The model against rule baselines", "",
             "Made by `make rule-baselines` (`python -m bgpsentry_train.rule_baselines`, "
             "training/bgpsentry_train/rule_baselines.py; its docstring defines the rules). The same test streams "
             "as events-eval.md (the same matching: recall over instances announced by at least two peers; an event "
             "is true when its type, suspect, prefix and time match an injected attack) and the same real-data runs "
             "as realdata-events.md, the rules reading the feature rows `featurize` makes with the inputs `score` "
             "gets there.", "",
             "## Synthetic test streams", "",
             "| detector | class | recall (>= 2 peers) | events | true | false | precision |",
             "|---|---|---|---|---|---|---|"]

    def cls_rows(name, summary, classes):
        for c in classes:
            pc = summary["classes"][c]
            lines.append(f"| {name} | {c} | {pc['recall_2peers']:.3f} of {pc['instances_2peers']} | {pc['events']} | "
                         f"{pc['true_events']} | {pc['false_events'] + pc['wrong_events']} | {pc['precision']:.3f} |")

    cls_rows("model", model, ee.ATTACK_CLASSES)
    for rule in RULES:
        cls_rows(rule, rules[rule], RULE_CLASSES[rule])
    lines += ["", "| detector | look-alikes alerted | false events on the real background of the test streams | per million |",
              "|---|---|---|---|"]

    def bg_row(name, s):
        fe = sum(b["false_events"] for b in s["backgrounds"].values())
        el = sum(b["elements"] for b in s["backgrounds"].values())
        look = s["lookalikes"]
        lines.append(f"| {name} | {look['alerted']} of {look['instances']} ({100 * look['alert_rate']:.2f}%) | {fe} | "
                     f"{fe * 1e6 / el if el else 0:.1f} |")

    bg_row("model", model)
    for rule in RULES:
        bg_row(rule, rules[rule])
    lines += ["", "## Real-data runs", "",
              f"Every real update file (realdata.json, {elements:,} elements, warm-up 2m, the baselines that fit). "
              "The model's events are judged one by one in realdata-events.md; a rule's events are counted here, "
              "and whether it reports Pakistan Telecom's 2008 hijack of YouTube (208.65.153.0/24 by AS17557).", "",
              "| detector | events | per million | by type | YouTube 2008 found |", "|---|---|---|---|---|"]
    bt = lambda d: ", ".join(f"{k} {v}" for k, v in sorted(d.items())) or "-"  # noqa: E731
    lines.append(f"| model | {model_real['events']} | {model_real['events'] * 1e6 / elements:.1f} | "
                 f"{bt(model_real['by_type'])} | {'yes' if youtube['model'] else 'no'} |")
    for rule in RULES:
        o = real[rule]
        lines.append(f"| {rule} | {o['events']} | {o['events'] * 1e6 / elements:.1f} | {bt(o['by_type'])} | "
                     f"{'yes' if youtube[rule] else 'no'} |")
    lines += ["", "Every real-data event of `hairpin-leak` (the rule of Cloudflare Radar), and whether the model "
              "reports a leak by the same AS in that run:", "",
              "| run | leaker | first seen | prefixes | peers | the model too |", "|---|---|---|---|---|---|"]
    for run, evs in real["hairpin-leak"]["runs"].items():
        for e in evs:
            both = any(m["type"] == "ROUTE_LEAK" and int(m.get("suspect_asn", 0)) == e["suspect_asn"]
                       for m in model_runs.get(run, []))
            lines.append(f"| {run} | {e['suspect_asn']} | {e['first_seen']} | {e['prefix_count']} | {e['peer_count']} | "
                         f"{'yes' if both else 'no'} |")
    return "\n".join(lines) + "\n"


def found_youtube(events: Iterable[dict]) -> bool:
    return any(e["type"] in ("ORIGIN_HIJACK", "SUBPREFIX_HIJACK") and e["prefix"] == "208.65.153.0/24"
               and int(e.get("suspect_asn", 0)) == 17557 for e in events)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=Path("training/pipeline.json"))
    ap.add_argument("--realdata", type=Path, default=Path("training/realdata.json"))
    ap.add_argument("--bin", type=Path, default=Path("dist/bgpsentry"))
    ap.add_argument("--out", type=Path, default=Path("training/out"))
    ap.add_argument("--split", default="test", choices=("train", "valid", "test"))
    ap.add_argument("--model-real", type=Path, default=Path("training/out/realdata"),
                    help="the model's real-data runs (realdata.py --out, with the baselines and --warmup 2m)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--hijack-min-peers", type=int, default=HIJACK_MIN_PEERS,
                    help="peers that open a hijack-monitor or upstream-monitor event (BGPalerter's thresholdMinPeers, 3)")
    ap.add_argument("--md", type=Path, default=None)
    a = ap.parse_args(argv)
    log = lambda *x: print(*x, file=sys.stderr)  # noqa: E731
    if not (a.model_real / "summary.json").is_file():
        raise SystemExit(f"rule_baselines: no {a.model_real / 'summary.json'}: run the model's real-data runs first "
                         f"(python -m bgpsentry_train.realdata --extra \"--warmup 2m\" --out {a.model_real})")
    cfg = cfgmod.load(a.config)
    log("rule_baselines: the model through events-eval (its last events, matched again)")
    model = ee.evaluate(cfg, a.bin, a.out, a.split, reuse=True, log=log)
    log("rule_baselines: the rules over the same streams")
    rules = test_streams(cfg, a.bin, a.out, a.split, a.jobs, log, a.hijack_min_peers)
    log("rule_baselines: the rules over the real-data runs")
    real = real_data(a.bin, json.loads(a.realdata.read_text()), log=log, hijack_min_peers=a.hijack_min_peers)
    msum = json.loads((a.model_real / "summary.json").read_text())
    by_type: dict[str, int] = {}
    model_runs: dict[str, list[dict]] = {}
    for r in msum["runs"]:
        for k, v in r["by_type"].items():
            by_type[k] = by_type.get(k, 0) + v
        f = a.model_real / f"{r['slug']}.jsonl"
        model_runs[r["name"]] = [json.loads(l) for l in f.read_text().splitlines() if l.strip()]
    youtube = {"model": any(found_youtube(evs) for evs in model_runs.values())}
    youtube |= {rule: any(found_youtube(evs) for evs in real[rule]["runs"].values()) for rule in RULES}
    md = markdown(model, rules, real, {"events": msum["events"], "by_type": by_type}, msum["elements"], youtube, model_runs)
    (a.out / "rule_baselines.json").write_text(json.dumps({"model": model, "rules": rules, "real": real}, indent=1) + "\n")
    if a.md:
        a.md.write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
