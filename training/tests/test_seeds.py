"""bgpsentry_train.seeds: the row of one seed and the table."""

from bgpsentry_train import seeds


def synth(r: float, p: float, look: float) -> dict:
    return {"classes": {c: {"recall_2peers": r, "precision": p} for c in seeds.CLASSES},
            "lookalikes": {"alert_rate": look}}


def test_seed_row_counts_real_events_by_first_look():
    row = seeds.seed_row(3, 0.0965, synth(0.7, 0.9, 0.0059),
                         {"true": 5, "false": 1, "likely false": 11, "unverified": 15}, 2_447_451)
    assert row["real_events"] == 32
    assert row["real_true"] == 5
    assert row["real_false"] == 12  # false and likely false together
    assert row["real_unverified"] == 15
    assert abs(row["real_per_million"] - 13.07) < 0.01
    assert row["route_leak"] == (0.7, 0.9)
    assert row["valid_logloss"] == 0.0965


def test_seed_row_without_events_or_elements():
    row = seeds.seed_row(1, 0.1, synth(0.5, 0.5, 0.0), {}, 0)
    assert row["real_events"] == 0 and row["real_false"] == 0 and row["real_per_million"] == 0.0


def test_markdown_marks_the_chosen_seed_and_spreads():
    rows = [seeds.seed_row(s, 0.1 + s / 100, synth(0.5 + s / 10, 0.9, 0.01), {"true": 5, "likely false": s}, 1_000_000)
            for s in (1, 2, 3)]
    md = seeds.markdown(rows, chosen=3)
    lines = md.splitlines()
    assert lines[0].startswith("| seed | valid logloss |")
    assert lines[1].count("---") == lines[0].count("|") - 1
    assert any(line.startswith("| 3 (chosen) |") for line in lines)
    assert not any(line.startswith("| 1 (chosen)") for line in lines)
    # recall 0.6, 0.7, 0.8 over the seeds: min / median / max.
    assert "- origin_hijack: recall 0.600 / 0.700 / 0.800, precision 0.900 / 0.900 / 0.900" in md
    assert "- real-data events: 6 / 7 / 8;" in md


def test_markdown_single_seed_has_no_spread():
    md = seeds.markdown([seeds.seed_row(1, 0.1, synth(0.5, 0.5, 0.0), {}, 1)], chosen=None)
    assert "Min / median / max" not in md
