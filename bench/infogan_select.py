"""InfoGAN with restarts picked without labels. For each of --seeds seeds, --restarts runs of the
`infogan` preset (restart j of seed s has seed 10*(s+1)+j) train to --select-at steps;
`gantry select --by BY` names one restart from unlabelled training images (consistency: Q's
categories agree most among nearest neighbours in deskewed pixel space; centrality: its categories
agree most with the other restarts'); only that one trains on (in a copy under DIR/chosen) to the
preset's --steps. Labels are read only to report each restart's `code_accuracy` (Q's first code on
the MNIST-10k test images, Hungarian-matched), at the selection and at the end, never to choose.

    python3 bench/infogan_select.py --out DIR [--device cpu] [--seeds 3] [--restarts 8]
        [--select-at 2000] [--steps 4500] [--by consistency] [--workers 2] [--data MNIST_DIR]
        [--report-only]

Interrupted, it resumes: finished restarts and selections are kept under DIR, and a later
--select-at or --by continues the same restarts from their checkpoints. A chosen restart that an
earlier pass already trained to --steps is read at that checkpoint instead of trained again (on
one device, training resumed from a checkpoint repeats the straight run bit for bit). Each
protocol seed's line goes to DIR/infogan-select.jsonl; the section `infogan-select-BY-N`
(N = --select-at) of docs/benchmarks.md is written from that file.
"""
import argparse, itertools, json, os, queue, shutil, statistics, subprocess, threading
import report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--restarts", type=int, default=8)
    ap.add_argument("--select-at", type=int, default=2000)
    ap.add_argument("--steps", type=int, default=4500)
    ap.add_argument("--by", choices=["consistency", "centrality"], default="consistency")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--samples", type=int, default=2000, help="unlabelled images `gantry select` reads")
    ap.add_argument("--data", default=os.path.join(report.ROOT, "..", "shared", "data", "mnist-10k"))
    ap.add_argument("--report-only", action="store_true")
    a = ap.parse_args()
    if not 3 <= a.restarts <= 10:
        ap.error("--restarts must be 3 to 10 (restart seeds are 10*(s+1)+j)")
    if not 0 < a.select_at < a.steps:
        ap.error("--select-at must lie between 0 and --steps")
    os.makedirs(a.out, exist_ok=True)
    results = os.path.join(a.out, "infogan-select.jsonl")
    if not a.report_only:
        run_protocol(a, results)
    report_section(results, a)


def same(row, a):
    """Whether a results line comes from this protocol (lines from before --by chose by centrality)."""
    return (row["select_at"], row.get("by", "centrality"), row["steps"]) == (a.select_at, a.by, a.steps)


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
    jobs = queue.PriorityQueue()  # (priority, order, fn): a selected run's continuation goes first
    order = itertools.count()
    left = {s: a.restarts for s in range(a.seeds)}
    failures = []

    def train(run, seed, steps, resume):
        if not resume and os.path.isdir(run):
            shutil.rmtree(run)  # an interrupted restart with no checkpoint starts again
        gantry("train", "--preset", "infogan", "--data", a.data, "--seed", seed, "--device", a.device,
               "--out", run, "--quiet", "--set", "train.eval_every=0", "--set", "train.sample_every=0",
               "--steps", steps, *(["--resume"] if resume else []))

    def finish(s):
        runs = [os.path.join(a.out, "runs", f"restart-{10 * (s + 1) + j}") for j in range(a.restarts)]
        sel_file = os.path.join(a.out, f"select-{s}-{a.by}-at{a.select_at}.json")
        if not os.path.exists(sel_file):
            sel = gantry("select", "--runs", *runs, "--step", a.select_at, "--samples", a.samples, "--by", a.by,
                         "--device", a.device)
            for r in sel["runs"]:
                r["code_accuracy"] = accuracy(r["run"], a.select_at, a.device)  # reported, not used to choose
            json.dump(sel, open(sel_file, "w"))
        sel = json.load(open(sel_file))

        def go_on():
            chosen = sel["selected"]
            if ckpt(chosen, a.steps):
                copy = chosen  # trained to the end by an earlier pass
            else:
                # the chosen restart trains on in a copy, so every restart stays at its selection
                # step and a later --select-at can continue them all
                copy = os.path.join(a.out, "chosen", f"seed{s}-{a.by}-at{a.select_at}")
                if not os.path.isdir(copy):
                    shutil.copytree(chosen, copy + ".part")
                    os.rename(copy + ".part", copy)
                if not ckpt(copy, a.steps):
                    train(copy, 10 * (s + 1) + runs.index(chosen), a.steps, True)
            row = {"seed": s, "select_at": a.select_at, "by": a.by, "steps": a.steps, "selected": chosen,
                   "final_accuracy": accuracy(copy, a.steps, a.device), "restarts": sel["runs"]}
            with lock:
                open(results, "a").write(json.dumps(row) + "\n")
            print(json.dumps({k: row[k] for k in ("seed", "selected", "final_accuracy")}), flush=True)

        jobs.put((0, next(order), go_on))

    def restart(s, j):
        run = os.path.join(a.out, "runs", f"restart-{10 * (s + 1) + j}")
        kept = steps_kept(run)
        if not ckpt(run, a.select_at):
            if kept and kept[-1] > a.select_at:
                raise SystemExit(f"{run} has gone past step {a.select_at} without keeping its checkpoint; "
                                 "remove it to train it again")
            # an earlier selection's restart (or an interrupted one) continues from its checkpoint
            train(run, 10 * (s + 1) + j, a.select_at, bool(kept))
        with lock:
            left[s] -= 1
            last = left[s] == 0
        if last:
            finish(s)

    for s in range(a.seeds):
        if s in done:
            continue
        for j in range(a.restarts):
            jobs.put((1, next(order), lambda s=s, j=j: restart(s, j)))

    def worker():
        while True:
            try:
                _, _, fn = jobs.get(timeout=5)
            except queue.Empty:
                with lock:
                    if failures:
                        return
                    if all(v <= 0 for s, v in left.items() if s not in done) and jobs.empty() and busy[0] == 0:
                        return
                continue
            with lock:
                busy[0] += 1
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
    lines = [f"## InfoGAN: restarts chosen without labels, by {a.by} ({report.stamp()})", "",
             f"`python3 bench/infogan_select.py --out DIR --device {a.device} --seeds {a.seeds} --restarts {a.restarts} "
             f"--select-at {a.select_at} --steps {a.steps} --by {a.by}` on {report.machine()}, MNIST-10k. For each "
             f"seed, {a.restarts} restarts of the `infogan` preset train {a.select_at} steps; `gantry select` keeps "
             f"the one {how}, on {a.samples} unlabelled training images; only that one trains on to {a.steps} steps. "
             "`code_accuracy` (Q's first code on the 999 test images, Hungarian-matched to the labels) is read "
             "for the report only.", "",
             f"| seed | chosen restart | its accuracy at {a.select_at} | best restart at {a.select_at} | "
             f"chosen's rank by accuracy | chosen at {a.steps} |", "|---|---|---|---|---|---|"]
    finals = []
    for r in rows:
        acc = {x["run"]: x["code_accuracy"] for x in r["restarts"]}
        chosen = acc[r["selected"]]
        rank = 1 + sum(v > chosen for v in acc.values())
        finals.append(r["final_accuracy"])
        lines.append(f"| {r['seed']} | {os.path.basename(r['selected'])} | {chosen:.3f} | {max(acc.values()):.3f} | "
                     f"{rank} of {len(acc)} | **{r['final_accuracy']:.3f}** |")
    if finals:
        sd = statistics.stdev(finals) if len(finals) > 1 else 0.0
        lines += ["", f"Chosen runs at {a.steps} steps: mean **{statistics.mean(finals):.3f}** ± {sd:.3f}, "
                  f"{sum(x >= 0.9 for x in finals)} of {len(finals)} at 0.90 or more."]
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
    report.write_section(f"infogan-select-{a.by}-{a.select_at}", "\n".join(lines))


if __name__ == "__main__":
    main()
