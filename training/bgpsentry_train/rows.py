"""Training rows: run `bgpsentry inject` and `bgpsentry featurize` per
background (cached behind a stamp file), then read the row CSVs.

Repeat r of a background (inject with another seed, for more attack
instances than one injection fits; repeats after the first add only the
injected rows) lives in OUT/backgrounds/NAME/rR/:

  COLLECTOR/     inject's output: injected.mrt, labels.csv, vrps.json,
                 scenarios.json (the directory is named after the collector
                 of the background files, as the MRT reader guesses it, so
                 the injected routes come from the background's peers)
  rows.csv       featurize output (feature columns, then META_COLUMNS)
  inject.log, featurize.log   the commands' standard error
  stamp.json     the key of the inputs the outputs were made from

The key covers the Go sources the commands are built from (tool_fingerprint:
cmd/bgpsentry/{inject,featurize,pipeline}.go and the packages they import),
every input file (sha256), the background's configuration, asrel/asorg, and
the derived seed; when it is unchanged and the outputs exist, the commands
are not run again. The key does not use the binary's own hash: the binary
embeds classifier/model, which this pipeline rewrites, so every run would
invalidate the next one's rows.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .config import CLASS_NAMES, REPO_ROOT, Background, Config

META_COLUMNS = (
    "label",
    "gated",
    "scenario",
    "attacker_asn",
    "background",
    "time",
    "peer_asn",
    "prefix",
    "origin_asn",
    "suspect_asn",
    "path",
)
STRING_COLUMNS = ("label", "scenario", "attacker_asn", "background", "prefix", "path")
INJECT_FILES = ("injected.mrt", "labels.csv", "vrps.json", "scenarios.json")

STAMP_VERSION = 1


class RowsError(RuntimeError):
    pass


_hash_cache: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _hash_cache:
        h = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _hash_cache[key] = h.hexdigest()
    return _hash_cache[key]


# The files of cmd/bgpsentry that implement the two commands the pipeline runs.
TOOL_COMMAND_FILES = ("cmd/bgpsentry/inject.go", "cmd/bgpsentry/featurize.go", "cmd/bgpsentry/pipeline.go")
_IMPORT_RE = re.compile(r'"(github\.com/bgpsentry/bgpsentry/[^"]+)"')
_GO_LIST_FORMAT = "{{if .Module}}{{if .Module.Main}}{{.Dir}}|{{join .GoFiles \",\"}}|{{join .EmbedFiles \",\"}}{{end}}{{end}}"
# Whole-tree fallback: not part of what inject and featurize compute.
_SKIP_DIRS = {"classifier", "testdata", "dist", "node_modules", "out", "__pycache__"}


def _tool_files(root: Path) -> list[Path]:
    """The Go files inject and featurize are built from: TOOL_COMMAND_FILES
    and every package of this module they import, directly or not (go list
    -deps), with embedded files; go.mod and go.sum."""
    cmd_files = [root / f for f in TOOL_COMMAND_FILES]
    imports = sorted({m for f in cmd_files for m in _IMPORT_RE.findall(f.read_text())})
    p = subprocess.run(["go", "list", "-deps", "-f", _GO_LIST_FORMAT, *imports], cwd=root, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        raise OSError(p.stderr.strip())
    files = list(cmd_files) + [root / "go.mod", root / "go.sum"]
    for line in p.stdout.splitlines():
        if not line.strip():
            continue
        d, gofiles, embeds = line.split("|")
        files += [Path(d) / f for f in (gofiles.split(",") + embeds.split(",")) if f]
    return files


def _tree_files(root: Path) -> list[Path]:
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        for f in filenames:
            if (f.endswith(".go") and not f.endswith("_test.go")) or (dirpath == str(root) and f in ("go.mod", "go.sum")):
                files.append(Path(dirpath) / f)
    return files


def tool_fingerprint(root: Path = REPO_ROOT) -> str:
    """sha256 over the Go sources of inject and featurize (see _tool_files);
    without a Go toolchain, over every non-test Go file outside classifier/."""
    try:
        files, how = _tool_files(root), "go list"
    except (OSError, subprocess.SubprocessError, ValueError):
        files, how = _tree_files(root), "tree"
    h = hashlib.sha256(how.encode())
    for p in sorted(set(files)):
        h.update(b"\n" + str(p.relative_to(root)).encode() + b"\n")
        h.update(p.read_bytes())
    return h.hexdigest()


def background_seed(seed: int, name: str) -> int:
    """A seed per background that does not move when the list is reordered."""
    d = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(d[:4], "big") & 0x7FFFFFFF


def display(p: Path) -> str:
    """A path as the repository sees it (relative to the root when possible)."""
    try:
        return str(Path(p).resolve().relative_to(REPO_ROOT))
    except ValueError:
        rel = Path(p).resolve()
        try:
            return str(Path("..") / rel.relative_to(REPO_ROOT.parent))
        except ValueError:
            return str(p)


_COLLECTOR_RE = re.compile(r"^(?:routeviews\.)?(rrc\d\d|route-views[\w.-]*?)(\.(updates|rib|bview)\b|$)")
_ARCHIVE_DIR_RE = re.compile(r"^(\d{4}\.\d{2}|UPDATES|RIBS|bgpdata)$")


def collector_name(path: str) -> str:
    """The collector the MRT reader (bgpfeed/mrt.CollectorName) names a file
    after: a RIS/RouteViews name in the file or a directory name, else the
    directory holding the file (skipping archive date/kind directories)."""
    parts = os.path.normpath(path).replace(os.sep, "/").split("/")
    for part in reversed(parts):
        m = _COLLECTOR_RE.match(part)
        if m:
            return m.group(1)
    if len(parts) >= 2 and parts[-2] not in (".", "..", ""):
        for d in reversed(parts[:-1]):
            if d in ("", ".", ".."):
                break
            if _ARCHIVE_DIR_RE.match(d):
                continue
            return d
    return os.path.basename(path)


def inject_dir(cfg: Config, bg: Background, d: Path) -> Path:
    want = collector_name(str(cfg.resolve(bg.files[0])))
    inj = d / want
    got = collector_name(str(inj / "injected.mrt"))
    if got != want:
        raise RowsError(f"background {bg.name}: the MRT reader would name {inj / 'injected.mrt'} collector {got!r}, not {want!r} like the background files; rename the background or the output directory")
    return inj


@dataclass
class BackgroundRun:
    """One inject + featurize run: repeat r of a background."""

    background: Background
    repeat: int
    dir: Path
    rows_path: Path
    cached: bool
    seconds: float
    inject_summary: str
    featurize_summary: str


def job_dir(out: Path, bg: Background, repeat: int) -> Path:
    return out / "backgrounds" / bg.name / f"r{repeat}"


def job_seed(cfg: Config, bg: Background, repeat: int) -> int:
    return background_seed(cfg.seed, bg.name if repeat == 0 else f"{bg.name}#{repeat}")


def _commands(cfg: Config, bg: Background, repeat: int, binary: Path, d: Path) -> tuple[list[str] | None, list[str]]:
    asrel = str(cfg.resolve(cfg.asrel))
    asorg = str(cfg.resolve(cfg.asorg)) if cfg.asorg else ""
    files = [str(cfg.resolve(f)) for f in bg.files]
    inj = inject_dir(cfg, bg, d)
    inject = None
    if bg.per_class > 0:
        inject = [str(binary), "inject"]
        for f in files:
            inject += ["--background", f]
        for b in bg.baseline:
            inject += ["--baseline", str(cfg.resolve(b))]
        inject += ["--asrel", asrel]
        if asorg:
            inject += ["--asorg", asorg]
        if bg.start_after:
            inject += ["--start-after", bg.start_after]
        inject += ["--out", str(inj), "--seed", str(job_seed(cfg, bg, repeat)), "--per-class", str(bg.per_class)]
    feat = [str(binary), "featurize"]
    if bg.featurize_asrel:
        feat += ["--asrel", asrel]
    if asorg:
        feat += ["--asorg", asorg]
    if inject is not None:
        feat += ["--rpki", str(inj / "vrps.json"), "--labels", str(inj / "labels.csv")]
    feat += ["--warmup", bg.warmup]
    for b in bg.baseline:
        feat += ["--baseline", str(cfg.resolve(b))]
    # Repeats add injected rows only: the background's own rows come from
    # repeat 0 (the rest that slip through the sampling are dropped on load).
    rate = bg.benign_rate if repeat == 0 else 1e-6
    if rate < 1:
        feat += ["--benign-rate", repr(rate)]
    feat += ["--background", bg.name, "-o", str(d / "rows.csv")]
    feat += files
    if inject is not None:
        feat.append(str(inj / "injected.mrt"))
    return inject, feat


def stamp_key(cfg: Config, bg: Background, repeat: int, tool: str, commands: list[list[str] | None]) -> str:
    inputs = [cfg.resolve(f) for f in bg.files] + [cfg.resolve(b) for b in bg.baseline] + [cfg.resolve(cfg.asrel)]
    if cfg.asorg:
        inputs.append(cfg.resolve(cfg.asorg))
    for p in inputs:
        if not p.is_file():
            raise RowsError(f"background {bg.name}: input {display(p)} not found")
    # What changes the commands' output is in their arguments (the binary's
    # path aside); the split, the note, the Python-side cap are not.
    key = {
        "stamp_version": STAMP_VERSION,
        "tool": tool,
        "commands": [c[1:] for c in commands if c],
        "repeat": repeat,
        "seed": job_seed(cfg, bg, repeat),
        "inputs": {display(p): file_sha256(p) for p in inputs},
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def _run(cmd: list[str], log: Path) -> str:
    with log.open("w") as err:
        err.write("$ " + " ".join(cmd) + "\n")
        err.flush()
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=err, cwd=REPO_ROOT)
    text = log.read_text()
    if proc.returncode != 0:
        tail = "\n".join(text.splitlines()[-15:])
        raise RowsError(f"{cmd[1]} exited {proc.returncode} (log {log}):\n{tail}")
    return text


def _summary(log_text: str, prefix: str) -> str:
    lines = [l for l in log_text.splitlines() if l.startswith(prefix)]
    return lines[-1] if lines else ""


def build_background(cfg: Config, bg: Background, repeat: int, binary: Path, out: Path, tool: str, log=print) -> BackgroundRun:
    """Runs inject and featurize for repeat r of a background, unless its
    stamp says the outputs are current. tool identifies the commands' code
    (tool_fingerprint and the binary's feature schema)."""
    d = job_dir(out, bg, repeat)
    d.mkdir(parents=True, exist_ok=True)
    inject, feat = _commands(cfg, bg, repeat, binary, d)
    key = stamp_key(cfg, bg, repeat, tool, [inject, feat])
    stamp = d / "stamp.json"
    inj = inject_dir(cfg, bg, d)
    want = [d / "rows.csv"] + ([inj / f for f in INJECT_FILES] if inject else [])
    if stamp.is_file() and all(p.is_file() for p in want):
        try:
            old = json.loads(stamp.read_text())
        except json.JSONDecodeError:
            old = {}
        if old.get("key") == key:
            return BackgroundRun(bg, repeat, d, d / "rows.csv", True, 0.0, old.get("inject", ""), old.get("featurize", ""))
    stamp.unlink(missing_ok=True)
    t0 = time.monotonic()
    inj_sum = ""
    tag = f"{bg.name}#{repeat}"
    if inject:
        inj.mkdir(exist_ok=True)
        log(f"  inject {tag}: per_class={bg.per_class}")
        text = _run(inject, d / "inject.log")
        inj_sum = "; ".join(l.strip() for l in text.splitlines() if l.startswith(("origin_hijack", "subprefix_hijack", "path_hijack", "route_leak", "benign")))
        for f in INJECT_FILES:
            if not (inj / f).is_file():
                raise RowsError(f"inject {tag}: no {f} in {inj}")
    log(f"  featurize {tag}")
    text = _run(feat, d / "featurize.log")
    feat_sum = _summary(text, "featurize:")
    secs = time.monotonic() - t0
    stamp.write_text(json.dumps({"key": key, "inject": inj_sum, "featurize": feat_sum, "seconds": secs}, indent=1) + "\n")
    return BackgroundRun(bg, repeat, d, d / "rows.csv", False, secs, inj_sum, feat_sum)


def read_rows(path: Path, benign_rate: float = 1.0, max_per_scenario: int = 0) -> tuple[pd.DataFrame, list[str]]:
    """Reads one featurize CSV. Returns the frame and its feature names (the
    columns before `label`, in model order). Floats are parsed round-trip
    exactly (pandas 3 parses shortest round-trip text to the same float64).

    The `weight` column says how many real rows a row stands for: sampled
    background rows (featurize --benign-rate) 1/benign_rate, and when a
    labelled scenario has more than max_per_scenario rows (a leak wave of
    2000 prefixes from 15 peers is 30000 rows of one instance), a
    deterministic sample of max_per_scenario of them, each weighing
    rows/kept."""
    with path.open() as f:
        header = f.readline().rstrip("\r\n").split(",")
    if "label" not in header:
        raise RowsError(f"{path}: no label column in the header")
    k = header.index("label")
    names, meta = header[:k], header[k:]
    if tuple(meta) != META_COLUMNS:
        raise RowsError(f"{path}: columns after the features are {meta}, want {list(META_COLUMNS)}")
    dtypes = {c: np.float64 for c in names} | {c: str for c in STRING_COLUMNS}
    dtypes |= {"gated": np.int64, "time": np.int64, "peer_asn": np.int64, "origin_asn": np.int64, "suspect_asn": np.int64}
    df = pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values={c: ["NaN", "nan"] for c in names})
    for c in STRING_COLUMNS:
        df[c] = df[c].fillna("").astype(str)
    bad = sorted(set(df["label"]) - set(CLASS_NAMES))
    if bad:
        raise RowsError(f"{path}: unknown labels {bad}")
    w = np.ones(len(df))
    w[((df["label"] == "benign") & (df["scenario"] == "")).to_numpy()] = 1.0 / benign_rate
    df["weight"] = w
    if max_per_scenario > 0:
        df = cap_scenarios(df, max_per_scenario)
    return df, names


def cap_scenarios(df: pd.DataFrame, cap: int) -> pd.DataFrame:
    """Keeps at most cap rows of every labelled (label, scenario) group,
    chosen by a hash of the row (deterministic, independent of the row
    order), and weights the kept rows by group size / kept."""
    lab = (df["scenario"] != "").to_numpy()
    if not lab.any():
        return df
    key = df[["time", "peer_asn", "prefix", "path", "scenario"]]
    h = pd.util.hash_pandas_object(key, index=False).to_numpy()
    keep = np.ones(len(df), dtype=bool)
    w = df["weight"].to_numpy().copy()
    groups = df.loc[lab].groupby(["label", "scenario"], sort=True).indices
    lab_idx = np.flatnonzero(lab)
    for _, gi in groups.items():
        idx = lab_idx[gi]
        if len(idx) <= cap:
            continue
        order = idx[np.lexsort((idx, h[idx]))]
        keep[order[cap:]] = False
        w[order[:cap]] *= len(idx) / cap
    out = df.assign(weight=w)[keep]
    return out.reset_index(drop=True)


def load_all(runs: list[BackgroundRun]) -> tuple[pd.DataFrame, list[str]]:
    frames, names = [], None
    for r in runs:
        df, n = read_rows(r.rows_path, r.background.benign_rate, r.background.max_rows_per_scenario)
        if r.repeat > 0:
            df = df[(df["label"] != "benign") | (df["scenario"] != "")].reset_index(drop=True)
        if names is None:
            names = n
        elif n != names:
            raise RowsError(f"{r.rows_path}: feature columns differ from the other backgrounds'")
        # The background column is the configured name (featurize --background);
        # force it so that a stale file cannot mislabel rows.
        df["background"] = r.background.name
        frames.append(df)
    return pd.concat(frames, ignore_index=True), names or []


def fingerprint(paths: list[Path]) -> str:
    """sha256 over the row files, in order (each: name, length, bytes)."""
    h = hashlib.sha256()
    for p in paths:
        data = p.read_bytes()
        h.update(f"{p.parent.parent.name}/{p.parent.name}/{p.name}\n{len(data)}\n".encode())
        h.update(data)
    return "sha256:" + h.hexdigest()


_SCHEMA_RE = re.compile(r"^\s*const\s+SchemaVersion\s*=\s*(\d+)", re.M)


def schema(binary: Path | None, names_go: Path = REPO_ROOT / "features" / "names.go") -> tuple[int, list[str] | None, str]:
    """The live feature schema version (and names when the binary says):
    `bgpsentry featurize --schema` when the flag exists, else the constant in
    features/names.go. Returns (version, names or None, where from)."""
    if binary is not None:
        try:
            p = subprocess.run([str(binary), "featurize", "--schema"], capture_output=True, text=True, timeout=60)
            if p.returncode == 0 and p.stdout.strip().startswith("{"):
                obj = json.loads(p.stdout)
                return int(obj["schema_version"]), list(obj.get("feature_names") or []) or None, "bgpsentry featurize --schema"
        except (OSError, subprocess.SubprocessError, ValueError, KeyError):
            pass
    m = _SCHEMA_RE.search(names_go.read_text())
    if not m:
        raise RowsError(f"{names_go}: no 'const SchemaVersion = N'")
    return int(m.group(1)), None, display(names_go)
