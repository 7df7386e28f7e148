"""InfoGAN with restarts picked without labels. For each protocol seed s, --restarts runs of the
`infogan` preset (restart j of seed s has seed 10*(s+1)+j for j < 10, the pools of the first
sections, and 100*(s+1)+j beyond) train to --select-at steps; `gantry select --by BY` names one
restart from unlabelled training images (consistency: Q's categories agree most among nearest
neighbours in deskewed pixel space; centrality: its categories agree most with the other
restarts'); only that one trains on (in a copy under DIR/chosen) to the preset's --steps. With
--screen-at K every restart trains only to K steps first, `gantry select` ranks them there by the
same criterion, and only the best --keep share goes on to --select-at, where the choice is made.
Labels are read only to report each restart's `code_accuracy` (Q's first code on the MNIST-10k
test images, Hungarian-matched), at the screening, the selection and the end, never to choose.

    python3 bench/infogan_select.py --out DIR [--device cpu] [--seeds 3 | --seeds 1,2,0]
        [--restarts 8] [--screen-at K [--keep 0.5]] [--select-at 2000] [--steps 4500]
        [--by consistency] [--workers 2] [--data MNIST_DIR] [--report-only]

--seeds takes a count (seeds 0 to N-1) or a list, which also sets the order the pools train in.
Interrupted, it resumes: finished restarts, screenings and selections are kept under DIR, and a
later --select-at, --by or larger --restarts continues the same restarts from their checkpoints.
A chosen restart that an earlier pass already trained to --steps is read at that checkpoint
instead of trained again (on one device, training resumed from a checkpoint repeats the straight
run bit for bit). Each protocol seed's line goes to DIR/infogan-select.jsonl; the section
`infogan-select-BY-N` (N = --select-at; `-rR` for pools other than 8 and `-screenK` with a
screening) of docs/benchmarks.md is written from that file.
"""
import argparse, itertools, json, math, os, queue, shutil, statistics, subprocess, threading, time
import report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seeds", default="3", help="a count N (seeds 0 to N-1) or a list such as 1,2,0")
    ap.add_argument("--restarts", type=int, default=8)
    ap.add_argument("--screen-at", type=int, default=0, help="rank every restart at this step first (0: no screening)")
    ap.add_argument("--keep", type=float, default=0.5, help="share of the restarts the screening keeps")
    ap.add_argument("--select-at", type=int, default=2000)
    ap.add_argument("--steps", type=int, default=4500)
    ap.add_argument("--by", choices=["consistency", "centrality"], default="consistency")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--samples", type=int, default=2000, help="unlabelled images `gantry select` reads")
    ap.add_argument("--data", default=os.path.join(report.ROOT, "..", "shared", "data", "mnist-10k"))
    ap.add_argument("--report-only", action="store_true")
    a = ap.parse_args()
    report.pin_classifiers()
    try:
        a.seed_list = [int(x) for x in a.seeds.split(",")] if "," in a.seeds else list(range(int(a.seeds)))
    except ValueError:
        ap.error(f"--seeds {a.seeds!r}: give a count such as 3 or a list such as 1,2,0")
    if not a.seed_list or min(a.seed_list) < 0 or len(set(a.seed_list)) != len(a.seed_list):
        ap.error(f"--seeds {a.seeds!r}: give a positive count or distinct non-negative seeds")
    if not 3 <= a.restarts <= 90:
        ap.error("--restarts must be 3 to 90 (restart seeds are 10*(s+1)+j, then 100*(s+1)+j)")
    if not 0 < a.select_at < a.steps:
        ap.error("--select-at must lie between 0 and --steps")
    if a.screen_at and not 0 < a.screen_at < a.select_at:
        ap.error("--screen-at must lie between 0 and --select-at")
    if not 0 < a.keep < 1 or (a.screen_at and kept_count(a) < 3):
        ap.error("--keep must be a share between 0 and 1 that keeps at least 3 restarts")
    os.makedirs(a.out, exist_ok=True)
    results = os.path.join(a.out, "infogan-select.jsonl")
    if not a.report_only:
        run_protocol(a, results)
    report_section(results, a)


def kept_count(a):
    return math.ceil(a.restarts * a.keep)


def restart_seed(s, j):
    return 10 * (s + 1) + j if j < 10 else 100 * (s + 1) + j


def protocol(row):
    """What makes results lines comparable. Lines from before --by chose by centrality, lines from
    before pools could grow had 8 restarts, and lines from before --screen-at were unscreened."""
    screen = row.get("screen_at") or 0
    return (row["select_at"], row.get("by", "centrality"), row["steps"], row.get("pool", 8), screen,
            row.get("keep") if screen else None)


def same(row, a):
    return protocol(row) == (a.select_at, a.by, a.steps, a.restarts, a.screen_at, a.keep if a.screen_at else None)


def section_name(a):
    name = f"infogan-select-{a.by}-{a.select_at}"
    if a.restarts != 8:
        name += f"-r{a.restarts}"
    if a.screen_at:
        name += f"-screen{a.screen_at}"
    return name


def rank(sel, by):
    """The runs of one `gantry select` answer, best first, by the tie rule `gantry select` uses."""
    key = {"consistency": lambda r: (-r["consistency"], -r["centrality"], r["code_entropy"]),
           "centrality": lambda r: (-r["centrality"], r["code_entropy"])}[by]
    return sorted(sel["runs"], key=key)


def ckpt(run, step):
    return os.path.isdir(os.path.join(run, "checkpoints", f"step-{step:07d}"))


def steps_kept(run):
    d = os.path.join(run, "checkpoints")
    return sorted(int(n[5:]) for n in os.listdir(d) if n.startswith("step-")) if os.path.isdir(d) else []


def gantry(*args):
    r = subprocess.run([report.GANTRY, *map(str, args)], capture_output=True, text=True,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
    if r.returncode != 0:
        raise SystemExit(f"gantry {' '.join(map(str, args))} failed:\n{r.stderr}")
    lines = r.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else None


def accuracy(run, step, device):
    return gantry("eval", "--run", run, "--step", step, "--device", device, "--samples", "200",
                  "--quiet")["code_accuracy"]


def run_protocol(a, results):
    done = set()
    if os.path.exists(results):
        done = {r["seed"] for r in map(json.loads, open(results)) if same(r, a)}
    lock = threading.Lock()
    # (priority, order, fn): a chosen run's continuation goes first, then the continuations of
    # screened restarts, then new restarts, pool by pool in the order of --seeds
    jobs = queue.PriorityQueue()
    order = itertools.count()
    seeds = [s for s in a.seed_list if s not in done]
    left = {s: a.restarts for s in seeds}
    failures = []
    tag = f"{a.by}-at{a.select_at}" + (f"-r{a.restarts}-screen{a.screen_at}" if a.screen_at else
                                       (f"-r{a.restarts}" if a.restarts != 8 else ""))

    def run_dir(s, j):
        return os.path.join(a.out, "runs", f"restart-{restart_seed(s, j)}")

    def train(run, seed, steps, resume):
        if not resume and os.path.isdir(run):
            shutil.rmtree(run)  # an interrupted restart with no checkpoint starts again
        gantry("train", "--preset", "infogan", "--data", a.data, "--seed", seed, "--device", a.device,
               "--out", run, "--quiet", "--set", "train.eval_every=0", "--set", "train.sample_every=0",
               "--steps", steps, *(["--resume"] if resume else []))

    def reach(run, seed, step):
        """Trains a restart to `step`, from its newest checkpoint when it has one."""
        if ckpt(run, step):
            return
        kept = steps_kept(run)
        if kept and kept[-1] > step:
            raise SystemExit(f"{run} has gone past step {step} without keeping its checkpoint; "
                             "remove it to train it again")
        train(run, seed, step, bool(kept))

    def judged(runs, step, name):
        """`gantry select` on `runs` at `step`, with each run's accuracy there for the report."""
        path = os.path.join(a.out, f"select-{name}.json")
        if not os.path.exists(path):
            sel = gantry("select", "--runs", *runs, "--step", step, "--samples", a.samples, "--by", a.by,
                         "--device", a.device)
            for r in sel["runs"]:
                r["code_accuracy"] = accuracy(r["run"], step, a.device)  # reported, not used to choose
            json.dump(sel, open(path, "w"))
        return json.load(open(path))

    def finish(s, runs, screen):
        if len(runs) == 8 and not screen:  # the file name of the first sections' selections
            sel = judged(runs, a.select_at, f"{s}-{a.by}-at{a.select_at}")
        else:
            sel = judged(runs, a.select_at, f"{s}-{tag}")

        def go_on():
            chosen = sel["selected"]
            if ckpt(chosen, a.steps):
                copy = chosen  # trained to the end by an earlier pass
            else:
                # the chosen restart trains on in a copy, so every restart stays at its selection
                # step and a later --select-at can continue them all
                copy = os.path.join(a.out, "chosen", f"seed{s}-{tag}")
                if not os.path.isdir(copy):
                    shutil.copytree(chosen, copy + ".part")
                    os.rename(copy + ".part", copy)
                reach(copy, int(chosen.rsplit("-", 1)[1]), a.steps)
            row = {"seed": s, "select_at": a.select_at, "by": a.by, "steps": a.steps, "pool": a.restarts,
                   "screen_at": a.screen_at, "keep": a.keep, "selected": chosen,
                   "final_accuracy": accuracy(copy, a.steps, a.device), "restarts": sel["runs"]}
            if screen:
                row["screen"] = screen
            with lock:
                open(results, "a").write(json.dumps(row) + "\n")
            print(json.dumps({k: row[k] for k in ("seed", "selected", "final_accuracy")}), flush=True)

        jobs.put((0, next(order), go_on))

    def pool_ready(s):
        runs = [run_dir(s, j) for j in range(a.restarts)]
        if not a.screen_at:
            finish(s, runs, None)
            return
        sel = judged(runs, a.screen_at, f"{s}-{a.by}-at{a.screen_at}-r{a.restarts}")
        kept = [r["run"] for r in rank(sel, a.by)[:kept_count(a)]]
        screen = {"at": a.screen_at, "runs": sel["runs"], "kept": kept}
        with lock:
            left[s] = len(kept)

        def go_on(run):
            reach(run, int(run.rsplit("-", 1)[1]), a.select_at)
            with lock:
                left[s] -= 1
                last = left[s] == 0
            if last:
                finish(s, kept, screen)

        for run in kept:
            jobs.put((1, next(order), lambda run=run: go_on(run)))

    def restart(s, j):
        reach(run_dir(s, j), restart_seed(s, j), a.screen_at or a.select_at)
        with lock:
            left[s] -= 1
            last = left[s] == 0
        if last:
            pool_ready(s)

    for s in seeds:
        for j in range(a.restarts):
            jobs.put((2, next(order), lambda s=s, j=j: restart(s, j)))

    def worker():
        while True:
            with lock:  # taking a job and counting it busy are one step, so no worker quits early
                try:
                    _, _, fn = jobs.get_nowait()
                    busy[0] += 1
                except queue.Empty:
                    if failures or busy[0] == 0:
                        return
                    fn = None
            if fn is None:
                time.sleep(2)  # a running job may still queue more
                continue
            try:
                fn()
            except BaseException as e:  # noqa: BLE001 - reported once the running jobs end
                with lock:
                    failures.append(str(e))
                    while not jobs.empty():  # nothing new starts after a failure
                        jobs.get()
            finally:
                with lock:
                    busy[0] -= 1

    busy = [0]
    threads = [threading.Thread(target=worker) for _ in range(a.workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise SystemExit("\n".join(failures))


def report_section(results, a):
    rows = [json.loads(line) for line in open(results)] if os.path.exists(results) else []
    rows = sorted((r for r in rows if same(r, a)), key=lambda r: r["seed"])
    how = {"consistency": "whose categories agree most among each image's 10 nearest neighbours (deskewed "
                          "pixels)",
           "centrality": "whose categorical code agrees best with the others' (Hungarian-matched)"}[a.by]
    screen = (f" --screen-at {a.screen_at} --keep {a.keep}" if a.screen_at else "")
    if a.screen_at:
        train = (f"train {a.screen_at} steps; `gantry select` ranks them there by the same criterion and the best "
                 f"{kept_count(a)} train on to {a.select_at} steps, where it keeps the one {how}")
    else:
        train = f"train {a.select_at} steps; `gantry select` keeps the one {how}"
    lines = [f"## InfoGAN: restarts chosen without labels, by {a.by} ({report.stamp()})", "",
             f"`python3 bench/infogan_select.py --out DIR --device {a.device} --seeds {a.seeds} --restarts {a.restarts}"
             f"{screen} --select-at {a.select_at} --steps {a.steps} --by {a.by}` on {report.machine()}, MNIST-10k. "
             f"For each seed, {a.restarts} restarts of the `infogan` preset {train}, on {a.samples} unlabelled "
             f"training images; only that one trains on to {a.steps} steps. `code_accuracy` (Q's first code on the "
             "999 test images, Hungarian-matched to the labels) is read for the report only.", "",
             f"| seed | chosen restart | its accuracy at {a.select_at} | best restart at {a.select_at} | "
             f"chosen's rank by accuracy | chosen at {a.steps} |", "|---|---|---|---|---|---|"]
    finals = []
    for r in rows:
        acc = {x["run"]: x["code_accuracy"] for x in r["restarts"]}
        chosen = acc[r["selected"]]
        rank_ = 1 + sum(v > chosen for v in acc.values())
        finals.append(r["final_accuracy"])
        lines.append(f"| {r['seed']} | {os.path.basename(r['selected'])} | {chosen:.3f} | {max(acc.values()):.3f} | "
                     f"{rank_} of {len(acc)} | **{r['final_accuracy']:.3f}** |")
    if finals:
        sd = statistics.stdev(finals) if len(finals) > 1 else 0.0
        lines += ["", f"Chosen runs at {a.steps} steps: mean **{statistics.mean(finals):.3f}** ± {sd:.3f}, "
                  f"{sum(x >= 0.9 for x in finals)} of {len(finals)} at 0.90 or more."]
    if finals and a.screen_at:
        lines += ["", f"Every restart at the screening ({a.screen_at} steps) and, if kept, at the selection "
                  f"({a.select_at} steps); {a.by} as above, accuracy for the report only:", "",
                  f"| seed | restart | {a.by} at {a.screen_at} | accuracy at {a.screen_at} | {a.by} at {a.select_at} | "
                  f"accuracy at {a.select_at} |", "|---|---|---|---|---|---|"]
        for r in rows:
            at_select = {x["run"]: x for x in r["restarts"]}
            for x in rank(r["screen"], a.by):
                y = at_select.get(x["run"])
                mark = " (chosen)" if x["run"] == r["selected"] else ""
                later = f"{y[a.by]:.3f} | {y['code_accuracy']:.3f}" if y else "not kept | –"
                lines.append(f"| {r['seed']} | {os.path.basename(x['run'])}{mark} | {x[a.by]:.3f} | "
                             f"{x['code_accuracy']:.3f} | {later} |")
    elif finals:
        lines += ["", "Every restart at the selection (consistency: share of neighbour pairs in one category; "
                  "centrality: mean matched agreement with the other restarts; entropy: Q's mean entropy in nats; "
                  "accuracy for the report only):", "",
                  "| seed | restart | consistency | centrality | entropy | accuracy |", "|---|---|---|---|---|---|"]
        for r in rows:
            for x in sorted(r["restarts"], key=lambda x: -x.get(a.by, 0)):
                mark = " (chosen)" if x["run"] == r["selected"] else ""
                k = f"{x['consistency']:.3f}" if "consistency" in x else "–"
                lines.append(f"| {r['seed']} | {os.path.basename(x['run'])}{mark} | {k} | {x['centrality']:.3f} | "
                             f"{x['code_entropy']:.3f} | {x['code_accuracy']:.3f} |")
    print("\n".join(lines))
    report.write_section(section_name(a), "\n".join(lines))


if __name__ == "__main__":
    main()
