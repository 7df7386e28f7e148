"""Shared helpers for the benchmark scripts: run gantry, and replace one section of
docs/benchmarks.md (between <!-- bench:NAME --> markers) so each script owns its own figures."""
import json, os, re, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# GANTRY_BIN lets a long benchmark run a frozen copy of the binary while the tree is rebuilt.
GANTRY = os.environ.get("GANTRY_BIN") or os.path.join(ROOT, "target", "release", "gantry")
DOC = os.path.join(ROOT, "docs", "benchmarks.md")


def build():
    if os.environ.get("GANTRY_BIN"):
        return
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)


def gantry(*args, env=None):
    """Runs gantry; returns the last stdout line parsed as JSON (None when it prints nothing)."""
    e = dict(os.environ)
    e.update(env or {})
    r = subprocess.run([GANTRY, *map(str, args)], capture_output=True, text=True, env=e)
    if r.returncode != 0:
        sys.exit(f"gantry {' '.join(map(str, args))} failed:\n{r.stderr}")
    lines = r.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else None


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


def stamp():
    return time.strftime("%Y-%m-%d")


def trained(out, train_args, threads=1):
    """Trains `gantry train ... --out out` unless a finished run is already there (its
    bench-summary.json), so an interrupted benchmark resumes where it stopped; returns the
    train summary with `seconds` of wall time (of the last invocation, when it resumed). A run stopped by a non-finite loss returns None."""
    done = os.path.join(out, "bench-summary.json")
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
            out.append(x)
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
