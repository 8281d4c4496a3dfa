#!/usr/bin/env bash
# The real-data figures of docs/ham10000.md: the compact CNN from scratch with the Bayesian
# (DenseFlipout) head and with a plain dense head, trained side by side (one core each), then
# evaluated with and without test-time augmentation, and the Grad-CAM maps scored on the masks.
#
#   bash scripts/realdata/ham10000.sh [SEED] [DATA] [OUT]     # defaults: 42 ../shared/ham10000 runs/real
#   HIDDEN=128 bash scripts/realdata/ham10000.sh 42             # a 128-unit dense layer in both heads, Bayesian
#                                                               # (--bayesian-hidden) in the flipout one, and the
#                                                               # best epoch picked by the Monte Carlo validation loss
#
# Backend: the fastest present (tfjs-node's 'tensorflow' after `npm run setup:native`, else wasm);
# each log's first line names it and why any faster one is absent; TFJS_TRUST_BACKEND=wasm forces one.
# About 45 minutes on 2 cores (wasm). Logs in OUT/<run>.log (runs s<SEED>[-h<HIDDEN>]-<head>); prints the table rows at the
# end (seed, head, TTA, accuracy, balanced accuracy, macro AUC, NLL, ECE, 95 % ECE of a calibrated model);
# skips when DATA is absent.
set -euo pipefail
source "$(dirname "$0")/common.sh"
recipe=(--arch compact --image-size 48 --epochs 30 --batch-size 32 --learning-rate 0.003 --lr-schedule cosine
        --balance none --augment --seed "$seed")
hidden="${HIDDEN:-0}"
name="s$seed"
if [ "$hidden" != 0 ]; then
  recipe+=(--dense "$hidden" --val-samples 16)
  name="s$seed-h$hidden"
fi
mkdir -p "$out"
pids=()
for head in flipout dense; do
  extra=()
  if [ "$hidden" != 0 ] && [ "$head" = flipout ]; then extra=(--bayesian-hidden); fi
  "${cli[@]}" train --data "$data" --out "$out/$name-$head" "${recipe[@]}" --head "$head" ${extra[@]+"${extra[@]}"} > "$out/$name-$head.log" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
for head in flipout dense; do
  run="$out/$name-$head"
  "${cli[@]}" evaluate --model "$run" --data "$data" --samples 32 > /dev/null
  "${cli[@]}" evaluate --model "$run" --data "$data" --samples 32 --tta > /dev/null
  "${cli[@]}" localize --model "$run" --data "$data" > /dev/null
  "${cli[@]}" localize --model "$run" --data "$data" --method layercam --layer block3_conv1 > /dev/null
done
node -e '
const fs = require("fs");
const [out, name, seed] = process.argv.slice(1);
for (const head of ["flipout", "dense"]) {
  for (const file of ["evaluation-test.json", "evaluation-test-tta.json"]) {
    const e = JSON.parse(fs.readFileSync(`${out}/${name}-${head}/${file}`, "utf8"));
    const f = (v) => v.toFixed(3);
    console.log(`| ${seed} | ${head} | ${e.tta ? "yes" : "no"} | ${f(e.accuracy)} | ${f(e.balancedAccuracy)} | ${f(e.macroAuc)} | ${f(e.nll)} | ${f(e.ece)} | ${f(e.eceIfCalibrated.upper)} |`);
  }
}' "$out" "$name" "$seed"

