"""realdata: every run gets the reference data of the configuration."""

import json
import subprocess
from pathlib import Path

from bgpsentry_train import realdata


def test_runs_get_the_configured_asorg(tmp_path: Path, monkeypatch):
    cfg = {"asorg": "orgs.jsonl.gz", "runs": [
        {"name": "A run", "baseline_fits": True, "files": [str(tmp_path / "u.gz")], "baseline": ["b.dat.gz"]},
        {"name": "Old run", "baseline_fits": False, "files": [str(tmp_path / "u.gz")], "baseline": ["b.dat.gz"]},
    ]}
    (tmp_path / "u.gz").write_bytes(b"")
    (tmp_path / "rd.json").write_text(json.dumps(cfg))
    cmds = []

    def fake_run(cmd, capture_output, text):
        cmds.append(cmd)
        Path(cmd[cmd.index("-o") + 1]).write_text('{"type": "ORIGIN_HIJACK"}\n')
        return subprocess.CompletedProcess(cmd, 0, "", "score: model embedded; 10 elements read (10 records, 0 skipped)\n")

    monkeypatch.setattr(realdata.subprocess, "run", fake_run)
    assert realdata.main(["--bin", "bgpsentry", "--config", str(tmp_path / "rd.json"), "--out", str(tmp_path / "out"),
                          "--extra", "--warmup 2m"]) == 0
    assert len(cmds) == 2
    for cmd in cmds:
        i = cmd.index("--asorg")
        assert cmd[i + 1] == "orgs.jsonl.gz"
        assert cmd[-1] == str(tmp_path / "u.gz") and "--warmup" in cmd
    assert "--baseline" in cmds[0] and "--baseline" not in cmds[1]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["elements"] == 20 and summary["events"] == 2
