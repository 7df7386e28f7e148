#!/usr/bin/env bash
# GPU checks, for a machine with CUDA (no test runs there in CI):
#  1. every image preset and both toy presets train a few steps on `--device cuda` with the
#     default train.deterministic = true (a kernel without a deterministic version would fail);
#  2. reproducibility on the GPU: two runs with one seed give byte-identical checkpoints, and a run
#     stopped and resumed gives the same bytes as one run straight through, for dcgan, wgan-gp
#     (gradient of a gradient) and cgan (an embedding's backward); the same pair is run again with
#     train.deterministic = false, to show what the switch buys;
#  3. sample, traverse and eval read a CUDA-trained run on the GPU;
#  4. speed against PyTorch on the GPU (bench/speed.py --device cuda).
#
#     bench/gpu.sh OUTDIR
#
# FASHION (default /usr/share/datasets/fashion-mnist) and MNIST (default ../shared/data/mnist-10k)
# name the IDX folders; GANTRY_BIN the binary (default target/release/gantry). DEVICE=cpu runs
# the same checks on the CPU (a rehearsal; it skips the speed comparison).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:?usage: bench/gpu.sh OUTDIR}
mkdir -p "$out"
g=${GANTRY_BIN:-$root/target/release/gantry}
fashion=${FASHION:-/usr/share/datasets/fashion-mnist}
mnist=${MNIST:-$root/../shared/data/mnist-10k}
dev=${DEVICE:-cuda}
w=$(mktemp -d)
quiet=(--quiet --set train.eval_every=0 --set train.sample_every=0)
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
same() { # two runs' last checkpoints: byte-identical weights and optimiser states?
    local a b f
    a=$(ls -d "$1"/checkpoints/step-* | tail -n 1) b=$(ls -d "$2"/checkpoints/step-* | tail -n 1)
    for f in g d opt_g opt_d; do cmp -s "$a/$f.safetensors" "$b/$f.safetensors" || return 1; done
}

say "# gantry GPU checks ($(date -u +%F), $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null))"
for p in $(ls "$root/src/presets" | sed 's/\.toml$//'); do
    case $p in
    fgan-estimate) continue ;; # reads a points file
    toy-*) data=() ;;
    improved-gan-semi) data=(--data "$mnist" --labels 100) ;;
    *) data=(--data "$fashion") ;;
    esac
    check "train-$p" "$g" train --preset "$p" "${data[@]}" --device "$dev" --steps 20 --out "$w/p-$p" "${quiet[@]}"
done

for det in true false; do
    for p in dcgan wgan-gp cgan; do
        s=(--preset "$p" --data "$fashion" --device "$dev" --seed 3 "${quiet[@]}" --set train.deterministic=$det
            --set train.checkpoint_every=20)
        "$g" train "${s[@]}" --steps 40 --out "$w/a-$p-$det" >/dev/null 2>&1
        "$g" train "${s[@]}" --steps 40 --out "$w/b-$p-$det" >/dev/null 2>&1
        "$g" train "${s[@]}" --steps 20 --out "$w/c-$p-$det" >/dev/null 2>&1
        "$g" train "${s[@]}" --steps 40 --out "$w/c-$p-$det" --resume >/dev/null 2>&1
        r1=differ; same "$w/a-$p-$det" "$w/b-$p-$det" && r1=identical
        r2=differs; same "$w/a-$p-$det" "$w/c-$p-$det" && r2=identical
        say "determinism $p deterministic=$det: two runs $r1; resumed at 20 against straight 40: $r2"
        if [ "$det" = true ] && { [ $r1 != identical ] || [ $r2 != identical ]; }; then fails=$((fails + 1)); fi
    done
done

i="$w/p-infogan"
check sample-cgan "$g" sample --run "$w/p-cgan" --device "$dev" --out "$out/cgan-grid.png"
check sample-class "$g" sample --run "$w/p-acgan" --device "$dev" --class 3 --n 16 --out "$w/acgan-3.png"
check traverse "$g" traverse --run "$i" --device "$dev" --out "$out/infogan-traverse.png"
check eval-dcgan "$g" eval --run "$w/p-dcgan" --device "$dev" --samples 1000 --quiet
cat "$w/eval-dcgan.log" >>"$out/gpu-checks.txt"
say "failures: $fails"

[ "$dev" = cpu ] && exit $((fails > 0))
python3 "$root/bench/speed.py" --device "$dev" --data "$fashion" --repeats 3 \
    --dcgan-steps 300 --wgan-gp-steps 100 && sed -n '/<!-- bench:speed-cuda -->/,/<!-- \/bench:speed-cuda -->/p' \
    "$root/docs/benchmarks.md" >"$out/speed-cuda.md"
exit $((fails > 0))
