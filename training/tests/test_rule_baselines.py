"""The rule baselines (rule_baselines): the rules on hand-built feature rows."""

from bgpsentry_train import rule_baselines as rb


def row(t, peer, prefix, origin, path, **kw):
    r = {"origin_for_prefix_age_hours": 1.0, "prefix_seen_before": 1, "covering_present": 0, "covering_origin_match": 0,
         "rpki_valid": 0, "origin_link_new": 0, "leak_type": 0, "valley_violation": 0, "time": t, "peer_asn": peer,
         "prefix": prefix, "origin_asn": origin, "suspect_asn": origin, "path": path}
    r.update({k: v for k, v in kw.items()})
    return {k: str(v) for k, v in r.items()}


def test_last_link():
    assert rb.last_link("1 2 2 3") == (2, 3)
    assert rb.last_link("1 2 3 3 3") == (2, 3)
    assert rb.last_link("7") is None
    assert rb.last_link("7 7 7") is None
    assert rb.last_link("1 {2,3}") is None


def test_origin_hijack_opens_at_third_peer():
    # The announcement that brings the new origin, then two more peers for
    # which the state already knows it (young): one event, at the third.
    rows = [row(100, 1, "10.0.0.0/24", 65001, "1 65001", origin_for_prefix_age_hours=-1),
            row(101, 2, "10.0.0.0/24", 65001, "2 65001", origin_for_prefix_age_hours=0.0),
            row(102, 3, "10.0.0.0/24", 65001, "3 65001", origin_for_prefix_age_hours=0.0),
            row(103, 4, "10.0.0.0/24", 65001, "4 65001", origin_for_prefix_age_hours=0.0)]
    evs = rb.rule_events(rows)["hijack-monitor"]
    assert len(evs) == 1
    e = evs[0]
    assert (e["type"], e["prefix"], e["suspect_asn"]) == ("ORIGIN_HIJACK", "10.0.0.0/24", 65001)
    assert e["first_seen"] == "1970-01-01T00:01:42Z" and e["peer_count"] == 4
    assert rb.rule_events(rows[:2])["hijack-monitor"] == []
    assert len(rb.rule_events(rows[:2], hijack_min_peers=2)["hijack-monitor"]) == 1
    # An origin the state had for the prefix before the run is no hijack.
    old = [dict(r, origin_for_prefix_age_hours="5") for r in rows]
    assert rb.rule_events(old)["hijack-monitor"] == []
    # Nor an RPKI-valid one.
    valid = [dict(r, rpki_valid="1") for r in rows]
    assert rb.rule_events(valid)["hijack-monitor"] == []


def test_subprefix_keeps_its_type():
    # A new more-specific under another origin's prefix: later peers see
    # the prefix as seen before, but the event stays a sub-prefix hijack.
    first = row(100, 1, "10.0.1.0/24", 65002, "1 65002", origin_for_prefix_age_hours=-1, prefix_seen_before=0,
                covering_present=1, covering_origin_match=0)
    later = [row(100 + p, p, "10.0.1.0/24", 65002, f"{p} 65002", origin_for_prefix_age_hours=0.0) for p in (2, 3)]
    evs = rb.rule_events([first] + later)["hijack-monitor"]
    assert [(e["type"], e["suspect_asn"]) for e in evs] == [("SUBPREFIX_HIJACK", 65002)]
    # The origin's own more-specific (the covering prefix has it) is not.
    own = dict(first, covering_origin_match="1")
    assert rb.rule_events([own] + later)["hijack-monitor"] == []


def test_upstream_monitor_keeps_new_link():
    # The new origin-adjacent link 20-30 is flagged by the state at its
    # first announcement only; the rule counts every peer that carries it.
    rows = [row(100, 1, "10.0.2.0/24", 30, "1 20 30", origin_link_new=1, suspect_asn=20),
            row(101, 2, "10.0.2.0/24", 30, "2 20 30"),
            row(102, 3, "10.0.2.0/24", 30, "3 9 20 30 30")]
    evs = rb.rule_events(rows)["upstream-monitor"]
    assert [(e["type"], e["prefix"], e["suspect_asn"], e["peer_count"]) for e in evs] == [("PATH_HIJACK", "10.0.2.0/24", 20, 3)]
    # A link the state knew before the run: nothing.
    assert rb.rule_events([dict(r, origin_link_new="0") for r in rows])["upstream-monitor"] == []


def test_leak_rules():
    def leak(n, typ, peers=2):
        return [row(100 + i, 1 + i % peers, f"10.9.{i}.0/24", 64999, "1 40 3356 64999", valley_violation=1,
                    leak_type=typ, suspect_asn=40) for i in range(n)]

    hair = rb.rule_events(leak(12, 1))
    assert [(e["type"], e["suspect_asn"], len(e["prefixes"])) for e in hair["hairpin-leak"]] == [("ROUTE_LEAK", 40, 12)]
    assert hair["hairpin-leak"][0]["first_seen"] == "1970-01-01T00:01:49Z"  # the tenth prefix
    assert len(hair["valley-leak"]) == 1
    lateral = rb.rule_events(leak(12, 3))
    assert lateral["hairpin-leak"] == [] and len(lateral["valley-leak"]) == 1
    assert rb.rule_events(leak(9, 1))["hairpin-leak"] == []  # under 10 prefixes
    assert rb.rule_events(leak(12, 1, peers=1))["hairpin-leak"] == []  # one peer


def test_to_featurize():
    cmd = ["bin", "score", "--events", "final", "-o", "ev.jsonl", "--vetoed", "v.jsonl", "--model", "m",
           "--asrel", "a.txt", "--warmup", "3m", "--baseline", "b.gz", "f1.gz", "inj.mrt"]
    assert rb.to_featurize(cmd) == ["bin", "featurize", "-o", "-", "--asrel", "a.txt", "--warmup", "3m",
                                    "--baseline", "b.gz", "f1.gz", "inj.mrt"]


def test_needs_model_real_runs(tmp_path):
    import pytest

    with pytest.raises(SystemExit, match="run the model's real-data runs first"):
        rb.main(["--model-real", str(tmp_path / "none")])


def test_featurize_rows_errors(tmp_path):
    import pytest

    # A command that fails: its standard error is in the message.
    with pytest.raises(SystemExit, match=r"exit 2\nbad input here"):
        rb.featurize_rows(["sh", "-c", "echo bad input here >&2; exit 2"])
    # Rows without the rules' columns.
    with pytest.raises(SystemExit, match="lack the columns"):
        rb.featurize_rows(["sh", "-c", "echo a,b; echo 1,2"])
    # A long output that is not rows: no stall, the columns named.
    with pytest.raises(SystemExit, match="lack the columns"):
        rb.featurize_rows(["sh", "-c", "yes a,b | head -c 2000000"])
