"""Shared helpers for the benchmark scripts: run gantry, and replace one section of
docs/benchmarks.md (between <!-- bench:NAME --> markers) so each script owns its own figures."""
import shlex, atexit, json, os, re, shutil, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# GANTRY_BIN lets a long benchmark run a frozen copy of the binary while the tree is rebuilt.
GANTRY = os.environ.get("GANTRY_BIN") or os.path.join(ROOT, "target", "release", "gantry")
DOC = os.path.join(ROOT, "docs", "benchmarks.md")


def build():
    pin_classifiers()
    if os.environ.get("GANTRY_BIN"):
        return
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)


PINNED = os.path.join(ROOT, "bench", "classifiers")


def cache_dir():
    """gantry's cache folder, found as `classifier::cache_dir` finds it."""
    if os.environ.get("GANTRY_CACHE"):
        return os.environ["GANTRY_CACHE"]
    if os.environ.get("XDG_CACHE_HOME"):
        return os.path.join(os.environ["XDG_CACHE_HOME"], "gantry")
    return os.path.join(os.path.expanduser("~"), ".cache", "gantry")


def pin_classifiers():
    """Puts the pinned evaluation classifiers of bench/classifiers into gantry's cache, in place of any trained
    here. A classifier gantry trains on first use differs in its last bits between processors and thread counts,
    and so does every FCD scored with it; pinned, a benchmark scores with one feature network on every machine, and
    rows measured in different sittings stay comparable. The files keep the cache's names
    (`gantry-cnn-v1-<data hash>.safetensors`), so a pinned classifier is used only for the data it was trained on."""
    if not os.path.isdir(PINNED):
        return
    dest = os.path.join(cache_dir(), "classifiers")
    os.makedirs(dest, exist_ok=True)
    for f in sorted(os.listdir(PINNED)):
        if not f.endswith(".safetensors"):
            continue
        src, dst = os.path.join(PINNED, f), os.path.join(dest, f)
        if os.path.exists(dst) and open(dst, "rb").read() == open(src, "rb").read():
            continue
        if os.path.exists(dst):
            print(f"bench: replacing the evaluation classifier cached in {dst} with the pinned {src}", file=sys.stderr)
        shutil.copyfile(src, dst + ".tmp")
        os.replace(dst + ".tmp", dst)


def gantry(*args, env=None):
    """Runs gantry; returns the last stdout line parsed as JSON (None when it prints nothing)."""
    e = dict(os.environ)
    e.update(env or {})
    r = subprocess.run([GANTRY, *map(str, args)], capture_output=True, text=True, env=e)
    if r.returncode != 0:
        sys.exit(f"gantry {' '.join(map(str, args))} failed:\n{r.stderr}")
    lines = r.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else None


def side_by_side(workers):
    """How many runs shared the machine, as the sections say it."""
    return "one run at a time" if workers == 1 else f"{workers} runs side by side"


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores"


def gpu(device):
    """The GPU's name and memory as PyTorch sees it, with the driver's version."""
    import torch
    i = int(device.split(":")[1]) if ":" in device else 0
    p = torch.cuda.get_device_properties(i)
    return f"{p.name} ({p.total_memory / 2**30:.0f} GiB, {p.multi_processor_count} SMs, CUDA {torch.version.cuda})"


def write_section(name, body):
    os.makedirs(os.path.dirname(DOC), exist_ok=True)
    text = open(DOC).read() if os.path.exists(DOC) else "# Benchmarks\n\nEach section is written by the script it names; rerun the command to reproduce it.\n"
    block = f"<!-- bench:{name} -->\n{body.rstrip()}\n<!-- /bench:{name} -->"
    pat = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S)
    text = pat.sub(lambda _: block, text) if pat.search(text) else text.rstrip() + "\n\n" + block + "\n"
    open(DOC, "w").write(text)


def read_section(name):
    """The body of a section of docs/benchmarks.md as it stands (None when there is none)."""
    if not os.path.exists(DOC):
        return None
    m = re.search(rf"<!-- bench:{re.escape(name)} -->\n(.*?)\n<!-- /bench:{re.escape(name)} -->", open(DOC).read(), re.S)
    return m.group(1) if m else None


def table_rows(body):
    """The data rows of a section's table, each as its list of cells (the header and rule rows left out)."""
    rows = [l for l in body.splitlines() if l.startswith("| ") and not l.startswith("|---")]
    return [[c.strip() for c in l.strip().strip("|").split(" | ")] for l in rows[1:]]


def sittings(body, key):
    """Where each row of a section's table came from: {key(cells): "`command` on machine, CPU, date"}. A section
    that carries rows over from earlier sittings says so in its `Sittings:` line (sittings_line); one written
    by a single sitting has its date in the heading and its command and machine in the first paragraph."""
    found = {}
    line = next((l for l in body.splitlines() if l.startswith("Sittings: ")), None)
    if line:
        for m in re.finditer(r"(`[^`]*` on .*?, \d{4}-\d{2}-\d{2}), for ([^;]*?)(?:;|\.$)", line[len("Sittings: "):]):
            for name in m.group(2).split(", "):
                found[name] = m.group(1)
        return found
    date = re.search(r"\((\d{4}-\d{2}-\d{2})\)", body).group(1)
    cmd = re.search(r"(`python3 bench/[^`]*`) on (.*?), CPU", body)
    return {key(cells): f"{cmd.group(1)} on {cmd.group(2)}, CPU, {date}" for cells in table_rows(body)}


def sittings_line(where, names, here):
    """The `Sittings:` line: for each sitting (`where[name]`, or `here` for a row measured now), the rows it measured."""
    groups = {}
    for n in names:
        groups.setdefault(where.get(n, here), []).append(n)
    return "Sittings: " + "; ".join(f"{w}, for {', '.join(ns)}" for w, ns in groups.items()) + "."


def stamp():
    return time.strftime("%Y-%m-%d")


# The ledger: with BENCH_LEDGER=1 every run a benchmark trains leaves its small result files
# (bench-args.json: the arguments it was trained with and the commit that built the binary;
# bench-summary.json; bench-eval*.json and the like: the evaluations; no weights) under
# bench/results/SCRIPT/RUN/. Committed, they let a benchmark that needs more than one sitting of
# the machine gather its runs over several: a run whose folder is gone is restored from the ledger
# when it was trained with the same arguments, and is neither retrained nor re-evaluated. Files are
# copied at every trained() call and at exit; `python3 bench/report.py keep SCRIPT WORKDIR` copies
# the finished runs of a benchmark that was stopped.
LEDGER = os.path.join(ROOT, "bench", "results") if os.environ.get("BENCH_LEDGER") == "1" else None
_touched = set()


def _ledger_dir(out, script=None):
    script = script or os.path.splitext(os.path.basename(sys.argv[0]))[0]
    return os.path.join(LEDGER or os.path.join(ROOT, "bench", "results"), script, os.path.basename(os.path.normpath(out)))


def _commit():
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "src", "csrc"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        return head + ("+changes" if dirty else "")
    except OSError:
        return "unknown"


def _portable(train_args):
    """The arguments with each absolute path cut to its last name (a data set made in a session's temporary folder)."""
    return [os.path.basename(os.path.normpath(str(x))) if os.path.isabs(str(x)) else str(x) for x in train_args]


def _restore(out, train_args):
    led = _ledger_dir(out)
    meta = os.path.join(led, "bench-args.json")
    if os.path.exists(os.path.join(out, "bench-summary.json")) or not os.path.exists(meta):
        return
    m = json.load(open(meta))
    if m["train_args"] != _portable(train_args):
        print(f"ledger: {led} was trained with other arguments; training afresh", file=sys.stderr)
        return
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(led):
        if f.startswith("bench-"):
            shutil.copy(os.path.join(led, f), os.path.join(out, f))
    print(f"ledger: {os.path.basename(out)} restored from {os.path.relpath(led, ROOT)} (trained at {m['commit']})", file=sys.stderr)


def keep(out, script=None):
    """Copies a finished run's result files (bench-*.json) into the ledger."""
    files = [f for f in os.listdir(out) if f.startswith("bench-") and f.endswith(".json")] if os.path.isdir(out) else []
    if "bench-summary.json" not in files or "bench-args.json" not in files:
        return False
    led = _ledger_dir(out, script)
    os.makedirs(led, exist_ok=True)
    for f in files:
        shutil.copy(os.path.join(out, f), os.path.join(led, f))
    return True


def _keep_touched():
    for out in list(_touched):
        keep(out)


atexit.register(_keep_touched)


def restored(out):
    """Whether a run's folder holds only what the ledger gave back (no checkpoints to sample from)."""
    return not os.path.isdir(os.path.join(out, "checkpoints"))


def trained(out, train_args, threads=1):
    """Trains `gantry train ... --out out` unless a finished run is already there (its
    bench-summary.json, or the ledger's), so an interrupted benchmark resumes where it stopped; returns the
    train summary with `seconds` of wall time (of the last invocation, when it resumed). A run stopped by a non-finite loss returns None."""
    done = os.path.join(out, "bench-summary.json")
    if LEDGER is not None:
        _keep_touched()
        _restore(out, train_args)
        _touched.add(out)
    os.makedirs(out, exist_ok=True)
    args = os.path.join(out, "bench-args.json")
    if not os.path.exists(args):
        # BENCH_COMMIT names the commit that built a frozen GANTRY_BIN, when it is not the checkout's
        commit = os.environ.get("BENCH_COMMIT") or _commit()
        open(args, "w").write(json.dumps({"train_args": _portable(train_args), "commit": commit,
                                          "binary": os.environ.get("GANTRY_BIN") or "target/release/gantry"}, indent=1) + "\n")
    if not os.path.exists(done):
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        t0 = time.time()
        # an interrupted run continues from its newest checkpoint
        resume = ["--resume"] if os.path.isdir(os.path.join(out, "checkpoints")) and os.listdir(os.path.join(out, "checkpoints")) else []
        r = subprocess.run([GANTRY, "train", "--out", out, "--quiet", *resume, *map(str, train_args)], capture_output=True, text=True, env=env)
        if r.returncode != 0:
            if "not finite" in r.stderr:
                return None
            sys.exit(f"gantry train --out {out} {' '.join(map(str, train_args))} failed:\n{r.stderr}")
        s = json.loads(r.stdout.strip().splitlines()[-1])
        s["wall_seconds"] = time.time() - t0
        open(done, "w").write(json.dumps(s))
    return json.load(open(done))


def preset(name):
    """A built-in preset's settings, read from src/presets."""
    import tomllib
    with open(os.path.join(ROOT, "src", "presets", f"{name}.toml"), "rb") as f:
        return tomllib.load(f)


def shown_args(argv):
    """The command-line arguments as a reader would rerun them: without --workdir (a local folder)."""
    out, skip = [], False
    for x in argv:
        if skip:
            skip = False
        elif x == "--workdir":
            skip = True
        elif not x.startswith("--workdir="):
            out.append(shlex.quote(x))  # "BEGAN (dcgan networks)" stays one argument
    return " ".join(out)


def mean_sd(xs):
    """Mean and sample standard deviation (0 for one value)."""
    import statistics
    xs = list(xs)
    return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def mean_se(xs):
    """Mean and standard error of the mean."""
    import math
    m, sd = mean_sd(xs)
    return m, sd / math.sqrt(len(xs)) if len(xs) > 1 else 0.0


def fmt(xs, digits=3):
    """`mean ± standard error`."""
    m, se = mean_se(xs)
    return f"{m:.{digits}f} ± {se:.{digits}f}"


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "keep":
        kept = [r for r in sorted(os.listdir(sys.argv[3])) if keep(os.path.join(sys.argv[3], r), sys.argv[2])]
        print(f"kept {len(kept)} finished runs of {sys.argv[2]} in bench/results/{sys.argv[2]}: {' '.join(kept)}")
    else:
        sys.exit("usage: python3 bench/report.py keep SCRIPT WORKDIR   (copies a benchmark's finished runs into its ledger)")
