"""The first-look rules of the real-data event listing."""

import json

from bgpsentry_train import realdata_events as rde


def ev(i, typ, prefix, suspect, **kw):
    return {"id": f"id{i}", "type": typ, "prefix": prefix, "suspect_asn": suspect, "state": "OPEN", **kw}


def test_first_look_rules():
    yt = ev(1, "ORIGIN_HIJACK", "208.65.153.0/24", 17557)
    assert rde.first_look(yt, False, True).startswith("true: Pakistan Telecom")
    assert rde.first_look(ev(2, "BOGON_ORIGIN", "103.109.236.0/24", 65551), False, False) == "true: bogon origin"
    hij = ev(3, "ORIGIN_HIJACK", "190.93.184.0/22", 269932)
    assert rde.first_look(hij, False, True) == "likely false: baseline-dependent"
    assert rde.first_look(hij, True, True) == "unverified"  # also without the baseline
    assert rde.first_look(hij, False, False) == "unverified"  # the baseline predates the data
    assert rde.first_look(ev(4, "ROUTE_LEAK", "1.0.0.0/24", 3356), False, False).startswith("likely false")
    assert rde.first_look(ev(5, "ROUTE_LEAK", "1.0.0.0/24", 64600), False, False).startswith("unverified")
    beacon = ev(6, "PATH_HIJACK", "84.205.66.0/24", 39351, sample_paths=["199524 174 39351 12654"])
    assert rde.first_look(beacon, False, False) == "false: RIS beacon"
    beacon6 = ev(7, "PATH_HIJACK", "2001:7fb:ff02::/48", 3320, sample_paths=["135895 6939 3320 12654"])
    assert rde.first_look(beacon6, False, False) == "false: RIS beacon"
    # The beacon prefix from another origin is no beacon.
    assert rde.first_look(dict(beacon, sample_paths=["199524 174 39351"]), False, False) == "unverified"


def test_listing(tmp_path):
    base, nob = tmp_path / "base", tmp_path / "nob"
    base.mkdir()
    nob.mkdir()
    (base / "summary.json").write_text(json.dumps({"runs": [{"name": "r1", "slug": "r1", "baseline": ["b.dat"]}]}))
    events = [ev(1, "ORIGIN_HIJACK", "10.0.0.0/8", 1), dict(ev(1, "ORIGIN_HIJACK", "10.0.0.0/8", 1), state="RESOLVED"),
              ev(2, "BOGON_ORIGIN", "11.0.0.0/8", 65000)]
    (base / "r1.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    (nob / "r1.jsonl").write_text(json.dumps(ev(9, "ORIGIN_HIJACK", "10.0.0.0/8", 1)) + "\n")
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"runs": [{"name": "r1", "files": [], "baseline": ["b.dat"], "baseline_after_data": True}]}))
    out = tmp_path / "events.md"
    assert rde.main(["--with-baseline", str(base), "--warmup-only", str(nob), "--config", str(cfg), "--out", str(out)]) == 0
    text = out.read_text()
    assert "2 events; baseline made after the data." in text  # one line per alert (its last state)
    assert "| ORIGIN_HIJACK | 10.0.0.0/8 | 1 |" in text and "unverified" in text  # the warm-up-only run has it too
    assert "- true: 1" in text and "- unverified: 1" in text


def _ref():
    from bgpsentry_train import refcheck
    # 1 provides transit to 2 and 3; 2 and 3 peer; 4 is 3's customer;
    # 5 and 6 are one organisation.
    rels = {}
    for a, b in [(1, 2), (1, 3), (3, 4)]:
        rels[(a, b)], rels[(b, a)] = refcheck.P2C, refcheck.C2P
    rels[(2, 3)] = rels[(3, 2)] = refcheck.P2P
    return refcheck.Reference(rels, {5: "org", 6: "org"}, "test")


def test_refcheck_valley_at():
    from bgpsentry_train import refcheck
    ref = _ref()
    # 3 learned from its provider 1 and passed to its peer 2: a valley at 3.
    assert refcheck.valley_at("2 3 1 9", 3, ref) == "valley"
    # 3 learned from its customer 4 and passed to its peer 2: none.
    assert refcheck.valley_at("2 3 4", 3, ref) == "no valley"
    # Prepending collapses; 1 learned from customer 3, passed to customer 2.
    assert refcheck.valley_at("2 2 1 1 1 3 4", 1, ref) == "no valley"
    # A link the reference lacks, or the suspect at an end of the path.
    assert refcheck.valley_at("2 3 7", 3, ref) == "unknown"
    assert refcheck.valley_at("3 4", 3, ref) == "unknown"
    assert refcheck.valley_at("2 1", 9, ref) == "unknown"
    # Siblings may pass anything.
    assert refcheck.valley_at("2 5 6", 5, refcheck.Reference({(2, 5): refcheck.C2P, (5, 2): refcheck.P2C}, {5: "o", 6: "o"})) == "no valley"


def test_first_look_with_reference():
    ref = _ref()
    leak = ev(1, "ROUTE_LEAK", "1.0.0.0/24", 3, sample_paths=["2 3 1 9"])
    assert rde.first_look(leak, False, False, ref) == "unverified: a valley at the leaker under the reference too"
    noleak = ev(2, "ROUTE_LEAK", "1.0.0.0/24", 3, sample_paths=["2 3 4", "2 3 4 4"])
    assert rde.first_look(noleak, False, False, ref) == "likely false: no valley at the leaker under the reference"
    # One unknown path: not judged false.
    mixed = dict(noleak, sample_paths=["2 3 4", "2 3 7"])
    assert rde.first_look(mixed, False, False, ref) == "unverified: valley under inferred relationships"
    path = ev(3, "PATH_HIJACK", "1.0.0.0/24", 3, sample_paths=["2 1 3 4"])
    assert rde.first_look(path, False, False, ref) == "likely false: known link (a provider of the origin in the reference)"
    assert rde.first_look(dict(path, sample_paths=["2 7 4"]), False, False, ref) == "unverified"
    sib = ev(4, "ORIGIN_HIJACK", "1.0.0.0/24", 5, expected_origins=[6])
    assert rde.first_look(sib, False, False, ref).startswith("likely false: related origins (the suspect is a sibling of")
    cust = ev(5, "SUBPREFIX_HIJACK", "1.0.0.0/24", 4, expected_origins=[3])
    assert "a customer of the expected origin" in rde.first_look(cust, False, False, ref)
    assert rde.first_look(ev(6, "ORIGIN_HIJACK", "1.0.0.0/24", 9, expected_origins=[4]), False, False, ref) == "unverified"
    # Without a reference the rules are as before.
    assert rde.first_look(noleak, False, False) == "unverified: valley under inferred relationships"


def test_load_asrel_and_asorg(tmp_path):
    import gzip

    import pytest

    from bgpsentry_train import refcheck
    f = tmp_path / "rel.txt"
    f.write_text("# comment\n1|2|-1\n2|3|0\n")
    rels = refcheck.load_asrel(f)
    assert rels[(1, 2)] == refcheck.P2C and rels[(2, 1)] == refcheck.C2P and rels[(3, 2)] == refcheck.P2P
    f.write_text("1|2\n")
    with pytest.raises(ValueError, match="rel.txt:1"):
        refcheck.load_asrel(f)
    f.write_text("1|2|7\n")
    with pytest.raises(ValueError, match="unknown relationship 7"):
        refcheck.load_asrel(f)
    g = tmp_path / "org.jsonl.gz"
    with gzip.open(g, "wt") as w:
        w.write('{"type":"Organization","organizationId":"O1"}\n{"type":"ASN","asn":"64500","organizationId":"O1"}\n')
    assert refcheck.load_asorg(g) == {64500: "O1"}


def test_table_holders_rule(tmp_path):
    import gzip
    t1 = tmp_path / "ipasn_20080501.dat.gz"
    with gzip.open(t1, "wt") as f:
        f.write("; IP-ASN32-DAT file\n65.197.7.0/24\t10851\n65.197.0.0/16\t6203\n")
    t2 = tmp_path / "ipasn_20260730.dat"
    t2.write_text("65.197.7.0/24\t64999\n")
    held = rde.table_holders([t1, t2, tmp_path / "missing.dat"], {"65.197.7.0/24", "10.0.0.0/8"})
    assert held == {"65.197.7.0/24": [(10851, t1.name), (64999, t2.name)]}
    sub = ev(1, "SUBPREFIX_HIJACK", "65.197.7.0/24", 10851)
    assert rde.first_look(sub, False, False, None, held) == "likely false: the suspect's prefix in a table (ipasn_20080501.dat.gz)"
    # Another suspect, or a class the rule is not for, stays unverified.
    assert rde.first_look(ev(2, "SUBPREFIX_HIJACK", "65.197.7.0/24", 7018), False, False, None, held) == "unverified"
    assert rde.first_look(ev(3, "PATH_HIJACK", "65.197.7.0/24", 10851), False, False, None, held) == "unverified"
    # Rule 4 comes first.
    assert rde.first_look(sub, False, True, None, held) == "likely false: baseline-dependent"


def test_evidence_notes(tmp_path):
    flagged = tmp_path / "flagged.csv"
    flagged.write_text(",ASN,HardVotePred,PrivateASN\n0,16422,1,0\n1,65000,1,1\n2,7018,0,0\n")
    truth = tmp_path / "truth.csv"
    truth.write_text(",ASN,class\n0,3549.0,0\n1,666,1\n")
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("55933,35916,0\n55933,18180,1\n3549,64500,0\n")
    cfg = {"reference": {"evidence": {"serial_flagged": str(flagged), "serial_groundtruth": str(truth),
                                      "bgpmon_pairs": str(pairs), "missing": str(tmp_path / "nope.csv")}}}
    evd = rde.Evidence.load(cfg)
    assert evd.flagged == {16422} and evd.legitimate == {3549}  # private ASNs and class 1 left out
    assert evd.notes(ev(1, "PATH_HIJACK", "212.98.151.0/24", 16422)) == "flagged as a serial hijacker (Testart et al.)"
    sub = ev(2, "SUBPREFIX_HIJACK", "221.128.131.0/24", 55933, expected_origins=[18180])
    assert evd.notes(sub) == "BGPmon: possible hijacker of AS18180"
    assert evd.notes(dict(sub, expected_origins=[1])) == "BGPmon: possible hijacker of 2 other ASes"
    assert evd.notes(ev(3, "ROUTE_LEAK", "1.0.0.0/24", 3549)) == \
        "legitimate in Testart et al.'s ground truth; BGPmon: possible hijacker of 1 other AS"
    assert evd.notes(ev(4, "ROUTE_LEAK", "1.0.0.0/24", 7018)) == "-"


def test_benign_stress_rule(tmp_path):
    """Rule 4: events of a benign-stress run from its start time on are
    likely false; before it, and in other runs, the other rules apply; a
    known incident or a bogon origin stays true."""
    leak = ev(1, "ROUTE_LEAK", "61.28.198.0/24", 5400, first_seen="2010-08-27T08:43:07Z")
    start = "2010-08-27T08:41:00Z"
    assert rde.first_look(leak, False, False, stress_from=start) == "likely false: session-reset look-alike"
    early = dict(leak, id="id3", first_seen="2010-08-27T08:40:30.5Z")
    assert rde.first_look(early, False, False, stress_from=start).startswith("unverified")
    assert rde.first_look(leak, False, False).startswith("unverified")
    bogon = ev(2, "BOGON_ORIGIN", "103.109.236.0/24", 65551, first_seen="2010-08-27T08:43:07Z")
    assert rde.first_look(bogon, False, False, stress_from=start) == "true: bogon origin"
    # Through the listing: realdata.json's benign_stress and benign_from.
    base, nob = tmp_path / "base", tmp_path / "nob"
    base.mkdir()
    nob.mkdir()
    (base / "summary.json").write_text(json.dumps({"runs": [{"name": "storm", "slug": "storm"}, {"name": "calm", "slug": "calm"}]}))
    for slug in ("storm", "calm"):
        (base / f"{slug}.jsonl").write_text(json.dumps(leak) + "\n" + json.dumps(early) + "\n")
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"runs": [{"name": "storm", "files": [], "benign_stress": "resets", "benign_from": start},
                                        {"name": "calm", "files": []}]}))
    out = tmp_path / "events.md"
    assert rde.main(["--with-baseline", str(base), "--warmup-only", str(nob), "--config", str(cfg), "--out", str(out)]) == 0
    text = out.read_text()
    # The storm run's leak after 08:41; its earlier one and the calm run's two.
    assert "- likely false: 1" in text and "- unverified: 3" in text, text
