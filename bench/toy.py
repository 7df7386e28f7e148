"""2-D mixtures under the PacGAN protocol (seed.md): every adversarial loss of gantry on ring8 and
grid25, several seeds, mean ± standard error, beside PacGAN's Table 1 (GAN) and GDPP's Table 1
(WGAN-GP) rows. Each run trains with its preset's networks for a fixed number of generator steps
and is scored on 2,500 samples by `gantry eval`.

    python3 bench/toy.py [--seeds 3] [--steps 1500] [--wgan-gp-steps 2000] [--wgan-gp-ring-steps 1000]
                         [--workers 2] [--only NAME]

Runs use one libtorch thread each and `--workers` run side by side. Run folders are named by
configuration, data and seed under `--workdir`; a finished run found there is scored again
rather than retrained. A run whose loss became non-finite (gantry stops it) counts as diverged.
"""
import argparse, concurrent.futures as cf, json, math, os, re, statistics, subprocess, tempfile, time
import report

# (name, preset, overrides); toy-gan's networks are PacGAN's, toy-wgan-gp's are gan_toy.py's.
CONFIGS = [
    ("GAN (non-saturating)", "toy-gan", []),
    ("GAN (minimax)", "toy-gan", ['objective.loss="minimax"']),
    ("LSGAN (0,1,1)", "toy-gan", ['objective.loss="least_squares"']),
    ("LSGAN (-1,1,0)", "toy-gan", ['objective.loss="least_squares"', "objective.lsgan_a=-1.0", "objective.lsgan_c=0.0"]),
    ("WGAN (clip 0.01, RMSProp 5e-5, 5 critic steps)", "toy-gan",
     ['objective.loss="wasserstein"', "objective.clip=0.01", 'train.optimizer="rmsprop"', "train.g_lr=5e-5",
      "train.d_lr=5e-5", "train.beta1=0.0", "train.critic_steps=5"]),
    ("hinge", "toy-gan", ['objective.loss="hinge"']),
] + [(f"f-GAN {d}", "toy-gan", ['objective.loss="f_gan"', f'objective.divergence="{d}"'])
     for d in ["kl", "reverse_kl", "pearson", "neyman", "hellinger", "js", "gan"]] + [
    ("WGAN-GP (gan_toy.py)", "toy-wgan-gp", ["train.ema=0.0"]),
    ("WGAN-GP + EMA 0.99 of G", "toy-wgan-gp", []),
]
PUBLISHED = {
    "ring8": "PacGAN Table 1, GAN: 6.3 modes, 98.2 % HQ, rKL 0.45; PacGAN4: 7.8 / 95.9 % / 0.07",
    "grid25": "PacGAN Table 1, GAN: 17.3 modes, 94.8 % HQ, rKL 0.70; PacGAN4: 24.8 / 93.6 % / 0.04. "
              "GDPP Table 1 (another protocol), WGAN-GP: 24.2 modes / 28.7 % HQ",
}


def mse(xs):
    m = statistics.mean(xs)
    se = statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else 0.0
    return m, se


def slug(name):
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def train_args(name, preset, sets, data, seed, steps, out):
    args = ["train", "--preset", preset, "--data", data, "--out", out, "--steps", str(steps), "--seed", str(seed), "--quiet",
            "--set", "train.sample_every=0"]
    for s in sets:
        args += ["--set", s]
    return args


def one(tmp, name, preset, sets, data, seed, steps):
    out = os.path.join(tmp, f"{slug(name)}-{data}-{seed}")
    done = os.path.join(out, "bench-seconds.txt")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    if not os.path.exists(done):
        t0 = time.time()
        r = subprocess.run([report.GANTRY, *train_args(name, preset, sets, data, seed, steps, out)], capture_output=True, text=True, env=env)
        if r.returncode != 0:
            if "not finite" in r.stderr:
                return name, data, seed, None, time.time() - t0
            raise SystemExit(f"{name} {data} {seed} failed: {r.stderr}")
        open(done, "w").write(f"{time.time() - t0}\n")
    secs = float(open(done).read())
    e = report.gantry("eval", "--run", out, "--samples", 2500, "--seed", 1000 + seed, env={"OMP_NUM_THREADS": "1"})
    return name, data, seed, e, secs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--wgan-gp-steps", type=int, default=2000)
    ap.add_argument("--wgan-gp-ring-steps", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--only", default=None)
    ap.add_argument("--workdir", default=None)
    a = ap.parse_args()
    report.build()
    tmp = a.workdir or tempfile.mkdtemp(prefix="gantry-toy-")
    os.makedirs(tmp, exist_ok=True)
    jobs = []
    with cf.ThreadPoolExecutor(a.workers) as ex:
        for name, preset, sets in CONFIGS:
            if a.only and a.only not in name:
                continue
            for data in ["grid25", "ring8"]:
                steps = a.steps
                if preset == "toy-wgan-gp":
                    steps = a.wgan_gp_steps if data == "grid25" else a.wgan_gp_ring_steps
                for seed in range(a.seeds):
                    jobs.append(ex.submit(one, tmp, name, preset, sets, data, seed, steps))
        results = []
        for j in cf.as_completed(jobs):
            r = j.result()
            print(r[0], r[1], r[2], r[3] and r[3].get("modes"), r[3] and r[3].get("high_quality"), f"{r[4]:.0f}s", flush=True)
            results.append(r)
    lines = [f"## 2-D mixtures, PacGAN protocol ({report.stamp()})", "",
             f"`python3 bench/toy.py --seeds {a.seeds} --steps {a.steps} --wgan-gp-steps {a.wgan_gp_steps} --wgan-gp-ring-steps {a.wgan_gp_ring_steps}` on {report.machine()}; "
             "one libtorch thread per run, two runs side by side.",
             f"Each cell: mean ± standard error over {a.seeds} seeds, 2,500 samples scored per run (a sample is high quality within 3 std "
             "of its nearest mode; modes = modes with at least one high-quality sample; reverse KL of the mode histogram against uniform).",
             f"GAN-family rows use the `toy-gan` preset's PacGAN networks and {a.steps} generator steps; WGAN-GP uses `toy-wgan-gp` "
             f"(gan_toy.py's networks, λ = 0.1; the preset samples from an EMA of G, the plain row sets `train.ema=0`) and "
             f"{a.wgan_gp_steps} generator steps on grid25, {a.wgan_gp_ring_steps} on ring8. "
             "A run whose loss became non-finite was stopped by gantry's guard and is counted as diverged, not scored. "
             "Seconds = mean wall time of one training run. These budgets are far shorter than the papers' (PacGAN trains for "
             "hundreds of epochs of 100,000 points), so high-quality fractions sit well below theirs; mode coverage is the comparable column.", ""]
    for data in ["ring8", "grid25"]:
        total = 8 if data == "ring8" else 25
        lines += [f"### {data}", "", f"Published: {PUBLISHED[data]}.", "",
                  f"| loss | modes (of {total}) | high quality | reverse KL | seconds | diverged |", "|---|---|---|---|---|---|"]
        for name, _, _ in CONFIGS:
            every = [r for r in results if r[0] == name and r[1] == data]
            rs = [r for r in every if r[3] is not None]
            diverged = f"{len(every) - len(rs)} of {len(every)}"
            if not rs:
                if every:
                    lines.append(f"| {name} | — | — | — | — | {diverged} |")
                continue
            m = mse([r[3]["modes"] for r in rs])
            h = mse([100 * r[3]["high_quality"] for r in rs])
            kls = [r[3]["reverse_kl"] for r in rs if r[3]["reverse_kl"] is not None]
            k = mse(kls) if kls else (float("nan"), 0)
            s = statistics.mean(r[4] for r in rs)
            lines.append(f"| {name} | {m[0]:.1f} ± {m[1]:.1f} | {h[0]:.1f} ± {h[1]:.1f} % | {k[0]:.2f} ± {k[1]:.2f} | {s:.0f} | {diverged} |")
        for name, _, _ in CONFIGS:
            rs = sorted((r for r in results if r[0] == name and r[1] == data and r[3] is not None), key=lambda r: r[2])
            if "WGAN-GP" in name and rs:
                lines.append("")
                lines.append(f"{name} on {data}, modes per seed: {', '.join(str(r[3]['modes']) for r in rs)}.")
        lines.append("")
    lines.append("f-GAN \"js\" and \"gan\" rows coincide exactly: their critic objectives differ by a constant (2 log 2), as do "
                 "their alternative generator losses, so gradients and seeded runs are identical.")
    report.write_section("toy" if not a.only else f"toy-{a.only}", "\n".join(lines))


if __name__ == "__main__":
    main()
