"""The PyTorch twins' shared clock: warm-up steps first, then timed steps between two
synchronisations, then (optionally) steps under torch's profiler, counted as gantry counts its own
(`GANTRY_PROFILE`, src/train/profile.rs): ATen operators, GPU activities, kernel launches, host
synchronisations, copies, graph launches. `--bf16` runs each step under torch.autocast to bfloat16."""
import contextlib, json, resource, time
import torch


def add_args(p):
    p.add_argument("--warmup", type=int, default=0, help="untimed steps before the clock starts")
    p.add_argument("--profile", type=int, default=0, help="steps to count under torch's profiler after the timed ones")
    p.add_argument("--bf16", action="store_true", help="each step under torch.autocast(dtype=torch.bfloat16)")


def count(events):
    c = dict(aten_ops=0, gpu_activities=0, kernel_launches=0, synchronisations=0, copies=0, graph_launches=0)
    for e in events:
        name = e.name()
        if e.device_type() == torch.autograd.DeviceType.CUDA:
            c["gpu_activities"] += 1
            continue
        c["aten_ops"] += name.startswith("aten::")
        c["kernel_launches"] += "LaunchKernel" in name
        c["synchronisations"] += "Synchronize" in name
        c["copies"] += name.startswith("cudaMemcpy")
        c["graph_launches"] += name.startswith("cudaGraphLaunch")
    return c


def run(step, a, model):
    """Runs `step(i)` a.warmup + a.steps (+ a.profile) times and prints the JSON line."""
    cuda = a.device.startswith("cuda")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    cast = (lambda: torch.autocast("cuda" if cuda else "cpu", dtype=torch.bfloat16)) if a.bf16 else contextlib.nullcontext
    i = 0
    for _ in range(a.warmup):
        with cast():
            step(i)
        i += 1
    sync()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        with cast():
            step(i)
        i += 1
    sync()
    dt = time.perf_counter() - t0
    out = {"impl": "pytorch", "model": model, "steps": a.steps, "warmup": a.warmup, "seconds": dt,
           "steps_per_s": a.steps / dt, "precision": "bf16" if a.bf16 else "fp32",
           "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
           "threads": torch.get_num_threads(), "torch": torch.__version__}
    if a.profile:
        acts = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if cuda else [])
        with torch.profiler.profile(activities=acts) as prof:
            for _ in range(a.profile):
                with cast():
                    step(i)
                i += 1
            sync()
        c = count(prof.profiler.kineto_results.events())
        out["profile"] = {"steps": a.profile, "per_step": {k: v / a.profile for k, v in c.items()}}
    print(json.dumps(out))
