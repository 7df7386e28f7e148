"""Shared helpers for the benchmark scripts: run gantry, and replace one section of
docs/benchmarks.md (between <!-- bench:NAME --> markers) so each script owns its own figures."""
import json, os, re, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GANTRY = os.path.join(ROOT, "target", "release", "gantry")
DOC = os.path.join(ROOT, "docs", "benchmarks.md")


def build():
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


def write_section(name, body):
    os.makedirs(os.path.dirname(DOC), exist_ok=True)
    text = open(DOC).read() if os.path.exists(DOC) else "# Benchmarks\n\nEach section is written by the script it names; rerun the command to reproduce it.\n"
    block = f"<!-- bench:{name} -->\n{body.rstrip()}\n<!-- /bench:{name} -->"
    pat = re.compile(rf"<!-- bench:{re.escape(name)} -->.*?<!-- /bench:{re.escape(name)} -->", re.S)
    text = pat.sub(lambda _: block, text) if pat.search(text) else text.rstrip() + "\n\n" + block + "\n"
    open(DOC, "w").write(text)


def stamp():
    return time.strftime("%Y-%m-%d")
