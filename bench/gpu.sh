#!/usr/bin/env bash
# GPU checks, for a machine with CUDA (no test runs there in CI). One call, in this order:
#  1. every preset (but fgan-estimate, which reads a point file) on `--device cuda` with the
#     default train.deterministic = true: trains; two runs with one seed give the same bytes in
#     every checkpoint file; a run stopped at step 5 and resumed gives a straight run's bytes at
#     step 10; and three steps train with train.precision = "bf16" (presets.txt);
#  2. wgan-gp's resume once more with the autograd counter left alone (GANTRY_SEQUENCE_BUMP=0),
#     and bench/reference/order_probe.py: the cause of the drift seen on CUDA before the fix;
#  3. sample, traverse and eval read a CUDA-trained run on the GPU; two data-parallel ranks (Gloo
#     with CUDA tensors, synchronised batch norm) train one process's weights;
#  4. speed against PyTorch, warmed, with profiler counts (bench/speed.py --device cuda --profile),
#     fp32, then bf16 under autocast on both sides.
#
#     bench/gpu.sh OUTDIR
#
# FASHION (default /usr/share/datasets/fashion-mnist) and MNIST (default ../shared/data/mnist-10k)
# name the IDX folders; GANTRY_BIN the binary (default target/release/gantry); JOBS the presets
# checked at once (default 8), PRESETS which (default all). DEVICE=cpu rehearses the same checks on the CPU; QUICK=1 shortens
# the speed runs (a rehearsal). Sections are cut off by `timeout` so that a late one cannot eat
# the earlier ones' results: everything goes to OUTDIR as it is known.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: bench/gpu.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
g=${GANTRY_BIN:-$root/target/release/gantry}
export GANTRY_BIN=$g
fashion=${FASHION:-/usr/share/datasets/fashion-mnist}
mnist=${MNIST:-$root/../shared/data/mnist-10k}
dev=${DEVICE:-cuda}
jobs=${JOBS:-8}
# the binary finds libtorch through its rpath where it was built; elsewhere through python's torch
torch_lib=$(python3 -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
export LD_LIBRARY_PATH=$torch_lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
w=$(mktemp -d)
fails=0
say() { echo "$*" | tee -a "$out/gpu-checks.txt"; }
check() { # name, command...
    local name=$1; shift
    local t0=$SECONDS
    if "$@" >"$w/$name.log" 2>&1; then
        say "ok    $name ($((SECONDS - t0)) s)"
    else
        say "FAIL  $name ($((SECONDS - t0)) s): $(tail -n 3 "$w/$name.log" | tr '\n' ' ')"
        fails=$((fails + 1))
    fi
}

say "# gantry GPU checks ($(date -u +%F), $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null), device $dev)"
"$g" data make digits-edges --mnist "$mnist" --out "$w/pair" --limit 300 >/dev/null 2>&1 || say "FAIL  data make digits-edges"
"$g" data make modes5-modes10 --out "$w/modes" --limit 400 >/dev/null 2>&1 || say "FAIL  data make modes5-modes10"

# --- 1. every preset: trains, two runs agree, resume is exact, bf16 trains -------------------
cat >"$w/preset.sh" <<'SH'
#!/usr/bin/env bash
# preset.sh PRESET: one line "PRESET train=… repeat=… resume=… bf16=…"
p=$1
case $p in
toy-*) data=() ;;
improved-gan-semi) data=(--data "$MNIST" --labels 100) ;;
cyclegan-toy | discogan-toy) data=(--data "$W/modes") ;;
cyclegan* | discogan* | cogan* | unit*) data=(--data "$W/pair") ;;
*) data=(--data "$FASHION") ;;
esac
s=(--preset "$p" "${data[@]}" --device "$DEV" --seed 3 --quiet --set train.eval_every=0 --set train.sample_every=0
    --set train.report=false --set train.checkpoint_every=5 --set train.keep_checkpoints=1)
d=$W/runs/$p
same() { # the last checkpoints of two runs: every tensor file byte-identical?
    local a b f n=0
    a=$(ls -d "$1"/checkpoints/step-* | tail -n 1) b=$(ls -d "$2"/checkpoints/step-* | tail -n 1)
    for f in "$a"/*.safetensors; do cmp -s "$f" "$b/$(basename "$f")" || return 1; n=$((n + 1)); done
    [ $n -gt 0 ]
}
t0=$SECONDS
train=ok repeat=- resume=- bf16=-
"$G" train "${s[@]}" --steps 10 --out "$d/a" >"$d.a.log" 2>&1 || train=FAIL
if [ $train = ok ]; then
    "$G" train "${s[@]}" --steps 10 --out "$d/b" >"$d.b.log" 2>&1
    "$G" train "${s[@]}" --steps 5 --out "$d/c" >"$d.c.log" 2>&1
    "$G" train "${s[@]}" --steps 10 --out "$d/c" --resume >>"$d.c.log" 2>&1
    repeat=differs; same "$d/a" "$d/b" && repeat=identical
    resume=differs; same "$d/a" "$d/c" && resume=identical
fi
bf16=ok; "$G" train "${s[@]}" --steps 3 --out "$d/bf16" --set train.precision=bf16 >"$d.bf16.log" 2>&1 || bf16="FAIL($(tail -n 1 "$d.bf16.log" | cut -c1-160))"
echo "$p train=$train repeat=$repeat resume=$resume bf16=$bf16 ($((SECONDS - t0)) s)"
# section 3 reads two of the runs; the others' weights go (cyclegan's and unit's are GBs)
case $p in dcgan | cyclegan-small) ;; *) rm -rf "$d" ;; esac
SH
mkdir -p "$w/runs"
presets=${PRESETS:-$(ls "$root/src/presets" | sed 's/\.toml$//' | grep -v '^fgan-estimate$')}
t0=$SECONDS
(echo "$presets" | tr ' ' '\n' | OMP_NUM_THREADS=2 G=$g W=$w DEV=$dev FASHION=$fashion MNIST=$mnist \
    xargs -P "$jobs" -n 1 bash "$w/preset.sh" >>"$w/presets.txt") &
pid=$!
while kill -0 $pid 2>/dev/null && [ $((SECONDS - t0)) -lt 180 ]; do sleep 1; done
# whatever is still running after 3 minutes is stopped, so that it cannot slow what follows
pkill -f "$w/preset.sh"; pkill -f "$w/runs/"; wait $pid 2>/dev/null
sort "$w/presets.txt" >"$out/presets.txt"
say "presets: $(wc -l <"$out/presets.txt") of $(echo "$presets" | wc -w) checked in $((SECONDS - t0)) s"
bad=$(grep -v "train=ok repeat=identical resume=identical bf16=ok" "$out/presets.txt")
[ -n "$bad" ] && { say "$bad"; fails=$((fails + $(echo "$bad" | wc -l))); }
tar -czf "$out/preset-logs.tar.gz" --exclude='*.safetensors' -C "$w" runs 2>/dev/null

# --- 2. the CUDA resume drift and its cause ------------------------------------------------
for bump in 0 1; do
    s=(--preset wgan-gp --data "$fashion" --device "$dev" --seed 3 --quiet --set train.eval_every=0
        --set train.sample_every=0 --set train.report=false --set train.checkpoint_every=20 --set train.log_every=1)
    GANTRY_SEQUENCE_BUMP=$bump "$g" train "${s[@]}" --steps 40 --out "$w/drift-$bump-a" >/dev/null 2>&1
    GANTRY_SEQUENCE_BUMP=$bump "$g" train "${s[@]}" --steps 20 --out "$w/drift-$bump-c" >/dev/null 2>&1
    GANTRY_SEQUENCE_BUMP=$bump "$g" train "${s[@]}" --steps 40 --out "$w/drift-$bump-c" --resume >/dev/null 2>&1
    first=$(python3 - "$w/drift-$bump-a/metrics.jsonl" "$w/drift-$bump-c/metrics.jsonl" <<'PY'
import json, sys
a, c = ([json.loads(l) for l in open(f)] for f in sys.argv[1:])
strip = lambda m: {k: v for k, v in m.items() if not k.startswith("time/")}
diff = [x["step"] for x, y in zip(a, c) if strip(x) != strip(y)]
print(f"first differing logged step {diff[0]}" if diff else f"all {len(a)} logged steps identical")
PY
)
    say "wgan-gp resumed at 20 against straight 40, GANTRY_SEQUENCE_BUMP=$bump: $first"
done
for norm in layer none; do
    say "order probe ($norm): $(timeout 60 python3 "$root/bench/reference/order_probe.py" --device "$dev" --norm $norm 2>&1 | tail -n 1)"
done

# --- 3. the other commands read a CUDA-trained run -----------------------------------------
q=(--quiet --set train.eval_every=0 --set train.sample_every=0 --set train.report=false)
check train-cgan "$g" train --preset cgan --data "$fashion" --device "$dev" --steps 20 --out "$w/cgan" "${q[@]}"
check train-infogan "$g" train --preset infogan --data "$fashion" --device "$dev" --steps 20 --out "$w/infogan" "${q[@]}"
check sample-cgan "$g" sample --run "$w/cgan" --device "$dev" --out "$out/cgan-grid.png"
check traverse "$g" traverse --run "$w/infogan" --device "$dev" --out "$w/infogan-traverse.png"
check eval-dcgan "$g" eval --run "$w/runs/dcgan/a" --device "$dev" --samples 1000 --quiet
check translate "$g" translate --run "$w/runs/cyclegan-small/a" --device "$dev" --input "$w/pair/testA" --out "$w/translated"
# data-parallel on one device: two ranks over Gloo with CUDA tensors (no NCCL yet), batch norm
# synchronised; the weights must match one process's to rounding (tests/dist.rs's check, on CUDA)
dp=(--preset dcgan --data "$fashion" --device "$dev" --steps 3 "${q[@]}" --set model.sync_bn=true --set model.base_channels=8 --set data.batch_size=16
    --set train.optimizer=\"sgd\" --set train.g_lr=0.001 --set train.d_lr=0.001)
check ddp-1 "$g" train --out "$w/ddp1" "${dp[@]}"
check ddp-2 "$g" train --out "$w/ddp2" --nproc 2 "${dp[@]}"
say "ddp 1 process against 2 ranks (max |difference|): $(python3 "$root/bench/reference/compare_checkpoints.py" "$w/ddp1/checkpoints/step-0000003" "$w/ddp2/checkpoints/step-0000003" 2>&1 | tail -n 1)"
# the same with 16 KiB gradient buckets, whose sums start from autograd hooks during backward
# (on CUDA the hooks run on the engine's device thread): must equal the one-bucket run exactly
check ddp-2-buckets "$g" train --out "$w/ddp2b" --nproc 2 "${dp[@]}" --set train.dist_bucket_mb=0.015625
say "ddp overlapped buckets against one bucket (max |difference|, want 0): $(python3 "$root/bench/reference/compare_checkpoints.py" "$w/ddp2/checkpoints/step-0000003" "$w/ddp2b/checkpoints/step-0000003" 2>&1 | tail -n 1)"
say "failures: $fails"

# --- 4. speed against PyTorch: fp32 with profiler counts, then bf16 -------------------------
[ "$dev" = cpu ] && [ -z "${QUICK:-}" ] && exit $((fails > 0))
if [ -n "${QUICK:-}" ]; then r=1 n=(--dcgan-steps 10 --wgan-gp-steps 4 --cyclegan-steps 2) p=2
else r=2 n=(--dcgan-steps 200 --wgan-gp-steps 100 --cyclegan-steps 10) p=5; fi
# the benchmark writes its section into a copy of docs/benchmarks.md
cp "$root/docs/benchmarks.md" "$w/benchmarks.md.orig"
section() { sed -n "/<!-- bench:$1 -->/,/<!-- \/bench:$1 -->/p" "$root/docs/benchmarks.md"; }
name=speed-cuda; [ "$dev" = cpu ] && name=speed
timeout 200 python3 "$root/bench/speed.py" --device "$dev" --data "$fashion" --repeats $r "${n[@]}" --profile $p \
    --only dcgan,toy-wgan-gp,wgan-gp,cyclegan-small,cyclegan 2>&1 | tee "$out/speed.log"
section "$name-dcgan-toy-wgan-gp-wgan-gp-cyclegan-small-cyclegan" >"$out/speed.md"
timeout 80 python3 "$root/bench/speed.py" --device "$dev" --data "$fashion" --repeats 1 "${n[@]}" --precision bf16 \
    --only dcgan,toy-wgan-gp,wgan-gp,cyclegan-small 2>&1 | tee -a "$out/speed.log"
section "$name-bf16-dcgan-toy-wgan-gp-wgan-gp-cyclegan-small" >"$out/speed-bf16.md"
cp "$w/benchmarks.md.orig" "$root/docs/benchmarks.md"
exit $((fails > 0))
