"""Every alert event of the real-data runs, listed with a first look.

    python -m bgpsentry_train.realdata_events --with-baseline training/out/realdata \\
        --warmup-only training/out/realdata-nobase --out training/realdata-events.md

Reads the events files that `bgpsentry_train.realdata` wrote for the runs
with their baselines and for the same runs bootstrapped from the warm-up
only (`--no-baseline`), and writes one Markdown table per run: every event
(its last state) with a first look. The first look is a rule, written
below and in the table header, not a verdict an analyst signed: it says
what the event most likely is, so that the false classes can be counted
and the true ones found.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import sys
import ipaddress
from pathlib import Path

from . import refcheck
from .config import event_time

# The tier-1 clique the relationship inference assumes (features/asrel
# Tier1 and Hurricane Electric for IPv6).
TIER1 = {174, 701, 1239, 1299, 2914, 3257, 3320, 3356, 3491, 5511, 6453, 6461, 6762, 6830, 7018, 12956, 6939}

# RIPE RIS routing beacons (AS12654): announced and withdrawn every two
# hours from the RIS collectors through their peers, so new upstreams of
# the beacon origin are routine by design.
RIS_BEACONS = [ipaddress.ip_network("84.205.64.0/19"), ipaddress.ip_network("93.175.144.0/20"),
               ipaddress.ip_network("2001:7fb:fe00::/39")]
RIS_ASN = 12654

# Known incidents in these files, by (type, prefix, suspect).
KNOWN = {
    ("ORIGIN_HIJACK", "208.65.153.0/24", 17557): "true: Pakistan Telecom's hijack of YouTube (2008-02-24)",
}
# AS18101 (Reliance Communications) originating Telegram's prefixes on
# 2026-06-16 (the RIPEstat responses of ../shared/data/incidents).
for _p in ("149.154.160.0/22", "91.108.56.0/22", "185.76.151.0/24", "2001:b28:f23c::/48", "2a0a:f280::/32"):
    KNOWN[("ORIGIN_HIJACK", _p, 18101)] = "true: AS18101 (Reliance) originating Telegram's prefixes (2026-06-16)"

RULES = """First-look rules, in order:

1. A known incident in these files: **true** (the incident named).
2. `BOGON_ORIGIN`: **true**: a private, reserved or documentation ASN
   originates a public prefix in the global table.
3. A RIPE RIS routing beacon (84.205.64.0/19, 93.175.144.0/20,
   2001:7fb:fe00::/39, origin AS12654): **false: RIS beacon**; the beacons
   are announced and withdrawn every two hours through the collectors'
   peers, so their new upstream links are routine.
4. An event of a run of benign stress, from the time its stress begins
   (realdata.json `benign_stress`, `benign_from`: the 2010-08-27 session
   reset storm, from 08:41 UTC): **likely false, session-reset
   look-alike**. The issue lists that file's resets as a benign look-alike
   and the training pipeline takes its own rows as benign (pipeline.json);
   sessions reset across the Internet, so routes explore paths, backup
   and partial transit the relationships do not know among them.
5. An origin or sub-prefix hijack that the warm-up-only run does not
   report, in a run that used a baseline made after the data: **likely
   false, baseline-dependent**: only the baseline, made months or years
   after the data, says the prefix belonged to the expected origin.
   Prefixes change hands in between, and a provider's aggregate in the
   baseline makes its customers' more-specifics look like sub-prefix
   hijacks (the DISA AS721 cases of REPORT.md).
6. A route leak whose leaker is in the tier-1 clique the inference assumes:
   **likely false, inferred relationships**: the valley sits on links the
   inference labels by assumption (clique peering, siblings without
   as-org data, partial transit).
7. A route leak whose sample paths, under the reference relationships
   (below), have no valley at the leaker, every link known: **likely
   false, no valley under the reference**: the valley exists only under
   the relationships inferred from the file itself (Gao's heuristic
   agrees with TopoScope on about 77% of links here).
8. A path hijack whose origin-adjacent link is a relationship of the
   reference: **likely false, known link**: the "forged" neighbour is a
   known provider, customer or peer of the origin.
9. An origin or sub-prefix hijack whose suspect is a neighbour (any
   relationship) or sibling of an expected origin in the reference:
   **likely false, related origins**: provider-assigned space, a
   customer's or provider's announcement, one organisation.
10. An origin or sub-prefix hijack whose suspect is the prefix's own
   origin in a prefix-to-origin table of another date (the tables of
   ../shared/data/baseline, `reference.tables`): **likely false, the
   suspect's prefix in a table**: the suspect held the prefix then (a
   table before the data) or came to hold it (after), as a network the
   prefix is assigned to does.
11. Any other event: **unverified** (for a route leak, whether the
   reference puts a valley at the leaker too, or does not know its
   links).

The reference is TopoScope's relationship file of 2018-06 and CAIDA's
as-org file of 2021-10 (`--asrel`, `--asorg`), data the runs themselves
did not use. It is of another date than most runs (2007-2026): a link it
knows may not have existed at the data's date, or have been another
relationship, so rules 7-10 are hints of the same standing as rule 5.

*Other evidence* lists what public lists say of the suspect, beside the
first look and without changing it: whether Testart et al.'s classifier
of serial hijackers (IMC 2019) flags it or their ground truth has it as
legitimate, and whether BGPmon reported it as a possible hijacker of an
expected origin or of others (realdata.json `reference.evidence`; the
lists are of other years than most runs, and neither is proof).
"""


# How a reference relationship of a to b reads ("a is ... b").
REL_TEXT = {refcheck.P2C: "a provider of", refcheck.C2P: "a customer of", refcheck.P2P: "a peer of",
            refcheck.S2S: "a sibling of"}


def load(path: Path) -> list[dict]:
    if not path.exists():
        return []
    last: dict[str, dict] = {}
    for line in path.read_text().splitlines():
        if line.strip():
            e = json.loads(line)
            last[e["id"]] = e  # the alert's last state
    return list(last.values())


def in_stress(e: dict, stress_from: str) -> bool:
    """Whether event e was first seen at or after stress_from (an event
    without a readable first_seen is not)."""
    try:
        return event_time(e.get("first_seen", "")) >= event_time(stress_from)
    except ValueError:
        return False


def is_beacon(e: dict) -> bool:
    try:
        net = ipaddress.ip_network(e.get("prefix", ""), strict=False)
    except ValueError:
        return False
    paths = e.get("sample_paths") or []
    origin_ris = any(p.split() and p.split()[-1] == str(RIS_ASN) for p in paths)
    return origin_ris and any(net.version == b.version and net.subnet_of(b) for b in RIS_BEACONS)


def table_holders(tables: list[Path], prefixes: set[str]) -> dict[str, list[tuple[int, str]]]:
    """The origins that the prefix-to-origin tables (pyasn format: a
    `prefix<TAB>asn` line an entry, gzip or plain, `;` comments) give to
    each of prefixes: prefix -> [(asn, table file name)]. A missing table
    is said on stderr and skipped."""
    held: dict[str, list[tuple[int, str]]] = {}
    for t in tables:
        if not t.exists():
            print(f"realdata_events: table {t} not found: rule 10 does not read it", file=sys.stderr)
            continue
        opener = gzip.open if t.suffix == ".gz" else open
        with opener(t, "rt") as f:
            for line in f:
                pfx, _, asn = line.rstrip("\n").partition("\t")
                if pfx in prefixes and asn.isdigit():
                    held.setdefault(pfx, []).append((int(asn), t.name))
    return held


class Evidence:
    """What public lists say of the suspect ASes (realdata.json
    `reference.evidence`): Testart et al.'s serial-hijacker classifier
    (IMC 2019: the networks it flags, and its ground truth of legitimate
    ones) and the hijacker-victim pairs of BGPmon's possible hijacks. None
    of it is proof: the flags are a classifier's, BGPmon's pairs were
    possible hijacks, not confirmed ones. It is listed beside the first
    look, which it does not change."""

    def __init__(self, flagged: set[int] | None = None, legitimate: set[int] | None = None,
                 bgpmon: dict[int, set[int]] | None = None):
        self.flagged = flagged or set()
        self.legitimate = legitimate or set()
        self.bgpmon = bgpmon or {}

    @classmethod
    def load(cls, cfg: dict) -> "Evidence":
        ev = cfg.get("reference", {}).get("evidence", {})
        out = cls()
        for key, path in ev.items():
            p = Path(path)
            if not p.exists():
                print(f"realdata_events: evidence {p} not found: not listed", file=sys.stderr)
                continue
            with open(p, newline="") as f:
                if key == "bgpmon_pairs":  # hijackerASN,legitimateASN,type
                    for row in csv.reader(f):
                        if len(row) >= 2 and row[0].isdigit() and row[1].isdigit():
                            out.bgpmon.setdefault(int(row[0]), set()).add(int(row[1]))
                    continue
                for row in csv.DictReader(f):
                    asn = int(float(row["ASN"]))
                    if key == "serial_flagged" and row.get("HardVotePred") == "1" and row.get("PrivateASN") != "1":
                        out.flagged.add(asn)
                    elif key == "serial_groundtruth" and row.get("class") == "0":
                        out.legitimate.add(asn)
        return out

    def notes(self, e: dict) -> str:
        s = e.get("suspect_asn", 0)
        out = []
        if s in self.flagged:
            out.append("flagged as a serial hijacker (Testart et al.)")
        if s in self.legitimate:
            out.append("legitimate in Testart et al.'s ground truth")
        victims = self.bgpmon.get(s, set())
        exp = set(e.get("expected_origins", []))
        if victims & exp:
            out.append("BGPmon: possible hijacker of " + ", ".join(f"AS{v}" for v in sorted(victims & exp)))
        elif victims:
            out.append(f"BGPmon: possible hijacker of {len(victims)} other AS{'es' if len(victims) > 1 else ''}")
        return "; ".join(out) or "-"


def first_look(e: dict, in_warmup_only: bool, future_baseline: bool, ref: refcheck.Reference | None = None,
               held: dict[str, list[tuple[int, str]]] | None = None, stress_from: str | None = None) -> str:
    """The first look at event e (RULES). stress_from: the run is benign
    stress from this RFC 3339 time on (realdata.json `benign_from`)."""
    key = (e["type"], e.get("prefix"), e.get("suspect_asn", 0))
    if key in KNOWN:
        return KNOWN[key]
    t = e["type"]
    if t == "BOGON_ORIGIN":
        return "true: bogon origin"
    if is_beacon(e):
        return "false: RIS beacon"
    if stress_from is not None and in_stress(e, stress_from):
        return "likely false: session-reset look-alike"
    if t in ("ORIGIN_HIJACK", "SUBPREFIX_HIJACK") and future_baseline and not in_warmup_only:
        return "likely false: baseline-dependent"
    if t == "ROUTE_LEAK":
        if e.get("suspect_asn", 0) in TIER1:
            return "likely false: inferred tier-1 relationships"
        if ref is not None:
            op = refcheck.leak_opinion(e, ref)
            if op == "no valley":
                return "likely false: no valley at the leaker under the reference"
            if op == "valley":
                return "unverified: a valley at the leaker under the reference too"
        return "unverified: valley under inferred relationships"
    if ref is not None and t == "PATH_HIJACK":
        r = refcheck.link_opinion(e, ref)
        if r is not None:
            return f"likely false: known link ({REL_TEXT[r]} the origin in the reference)"
    if ref is not None and t in ("ORIGIN_HIJACK", "SUBPREFIX_HIJACK"):
        r = refcheck.related_opinion(e, ref)
        if r is not None:
            return f"likely false: related origins (the suspect is {REL_TEXT[r]} the expected origin in the reference)"
    if held and t in ("ORIGIN_HIJACK", "SUBPREFIX_HIJACK"):
        names = sorted({name for asn, name in held.get(e.get("prefix", ""), []) if asn == e.get("suspect_asn", 0)})
        if names:
            return f"likely false: the suspect's prefix in a table ({', '.join(names)})"
    return "unverified"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--with-baseline", required=True, help="events of the runs with their baselines")
    ap.add_argument("--warmup-only", required=True, help="events of the runs with --no-baseline")
    ap.add_argument("--config", default="training/realdata.json")
    ap.add_argument("--out", required=True)
    ap.add_argument("--asrel", type=Path, default=None,
                    help="reference relationships for rules 7-9 (serial-1 a|b|rel; default: realdata.json reference.asrel)")
    ap.add_argument("--asorg", type=Path, default=None, help="reference as-org file (CAIDA as-org2info JSONL) for rule 9 (default: realdata.json reference.asorg)")
    a = ap.parse_args(argv)
    cfg = json.loads(Path(a.config).read_text())
    ref = load_reference(cfg, a.asrel, a.asorg)
    out = ["# Real-data alert events, one by one", "",
           "Made by `python -m bgpsentry_train.realdata_events` from the runs of "
           "training/REPORT.md (*Real-data runs*): every alert event of the runs with "
           "their baselines (its last state), with a first look by rule.",
           "", f"Reference for rules 7-9: {ref.name if ref else 'none (rules 7-9 not applied)'}.",
           "", "Tables for rule 10: " + (", ".join(Path(t).name for t in cfg.get("reference", {}).get("tables", [])) or "none") + ".", "", RULES]
    sections, totals = judge(cfg, Path(a.with_baseline), Path(a.warmup_only), ref)
    out += sections
    out += ["## Totals", ""] + [f"- {k}: {v}" for k, v in sorted(totals.items())] + [""]
    Path(a.out).write_text("\n".join(out))
    print(f"realdata_events: {sum(totals.values())} events: {totals}", file=sys.stderr)
    return 0


def load_reference(cfg: dict, asrel: Path | None = None, asorg: Path | None = None) -> refcheck.Reference | None:
    """The reference for rules 7-9: asrel and asorg, else realdata.json's
    reference.asrel and reference.asorg; None (said on stderr) when a file
    is missing, or when there is none."""
    dflt = cfg.get("reference", {})
    asrel = asrel or (Path(dflt["asrel"]) if dflt.get("asrel") else None)
    asorg = asorg or (Path(dflt["asorg"]) if dflt.get("asorg") else None)
    missing = [str(p) for p in (asrel, asorg) if p is not None and not p.exists()]
    if missing:
        print(f"realdata_events: reference {', '.join(missing)} not found: rules 7-9 not applied", file=sys.stderr)
        return None
    return refcheck.load(asrel, asorg) if (asrel or asorg) else None


def judge(cfg: dict, with_baseline: Path, warmup_only: Path, ref: refcheck.Reference | None) -> tuple[list[str], dict[str, int]]:
    """The first look at every event of the runs in with_baseline (the
    realdata runs with their baselines; warmup_only has the same runs with
    --no-baseline): a Markdown section per run, and the events counted by
    the class of their first look (true, false, likely false, unverified)."""
    base = json.loads((with_baseline / "summary.json").read_text())
    slugs = {r["name"]: r["slug"] for r in base["runs"]}
    out: list[str] = []
    totals: dict[str, int] = {}
    events = {slug: load(with_baseline / f"{slug}.jsonl") for slug in slugs.values()}
    hijacked = {e.get("prefix", "") for evs in events.values() for e in evs if e["type"] in ("ORIGIN_HIJACK", "SUBPREFIX_HIJACK")}
    tables = [Path(t) for t in cfg.get("reference", {}).get("tables", [])]
    held = table_holders(tables, hijacked) if hijacked and tables else {}
    evidence = Evidence.load(cfg)
    for r in cfg["runs"]:
        slug = slugs.get(r["name"])
        if slug is None:
            continue
        evs = events[slug]
        wo = {(e["type"], e.get("prefix"), e.get("suspect_asn", 0)) for e in load(warmup_only / f"{slug}.jsonl")}
        used = next((x.get("baseline", r.get("baseline", [])) for x in base["runs"] if x["name"] == r["name"]), [])
        future = bool(r.get("baseline_after_data")) and bool(used)
        out += [f"## {r['name']}", "",
                f"{len(evs)} events; " + ("no baseline (none within 6 months of the data): the warm-up only." if not used else
                                          f"baseline {'made after the data' if future else 'from before or at the data'}."), ""]
        if not evs:
            continue
        out += ["| type | prefix | suspect | expected | first seen | peers | prefixes | confidence | first look | other evidence |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        for e in sorted(evs, key=lambda e: (e.get("first_seen", ""), e["type"], e.get("prefix", ""))):
            look = first_look(e, (e["type"], e.get("prefix"), e.get("suspect_asn", 0)) in wo, future, ref, held,
                              stress_from=r.get("benign_from") if r.get("benign_stress") else None)
            cls = look.split(":")[0]
            totals[cls] = totals.get(cls, 0) + 1
            exp = ",".join(str(x) for x in e.get("expected_origins", [])) or "-"
            out.append(f"| {e['type']} | {e.get('prefix', '')} | {e.get('suspect_asn', '-')} | {exp} | "
                       f"{e.get('first_seen', '')} | {e.get('peer_count', '')} | {e.get('prefix_count', 1)} | "
                       f"{e.get('confidence', 0):.2f} | {look} | {evidence.notes(e)} |")
        out.append("")
    return out, totals


if __name__ == "__main__":
    sys.exit(main())
