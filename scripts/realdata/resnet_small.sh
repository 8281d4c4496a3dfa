#!/usr/bin/env bash
# Recipe 3 of docs/ham10000.md: the small residual network with batch norm (--arch resnet-small)
# from scratch at 64 px on the native backend, then evaluated with test-time augmentation (three
# operating points: argmax, prior shift, class weights fitted on validation with a melanoma
# recall floor) and its Grad-CAM maps scored on the lesion masks, with and without averaging over
# the 8 flips and quarter turns (--aug-smooth).
#
#   bash scripts/realdata/resnet_small.sh [SEED] [DATA] [OUT]   # defaults: 42 ../shared/ham10000 runs/real
#   HEAD=dense bash scripts/realdata/resnet_small.sh 42          # the same network without the Bayesian head
#   EPOCHS=10 ...                                                # epochs of the cosine schedule (default 10)
#
# Needs tfjs-node (`bash scripts/tfjs-node-offline.sh`): 1.5-9 minutes an epoch on 2 shared cores
# (measured 2026-11-29, depending on the load), about an hour with evaluation and localization. An interrupted
# run continues where it stopped when the script is run again (train --resume). Logs in
# OUT/r64-s<SEED>-<HEAD>.log; prints the operating points and localization lines at the end;
# skips when DATA is absent.
set -euo pipefail
source "$(dirname "$0")/common.sh"
head="${HEAD:-flipout}"
epochs="${EPOCHS:-10}"
export TFJS_TRUST_BACKEND="${TFJS_TRUST_BACKEND:-tensorflow}"
run="$out/r64-s$seed-$head"
mkdir -p "$out"
resume=()
if [ -f "$run/checkpoints/latest.json" ]; then resume=(--resume); fi
"${cli[@]}" train --data "$data" --out "$run" --arch resnet-small --image-size 64 --epochs "$epochs" --batch-size 32 \
  --learning-rate 0.003 --lr-schedule cosine --balance none --augment --seed "$seed" --head "$head" ${resume[@]+"${resume[@]}"} >> "$run.log" 2>&1
"${cli[@]}" evaluate --model "$run" --data "$data" --samples 32 --tta 2>&1 > /dev/null | grep -E '^(ham10000: [0-9]|  decision)'
"${cli[@]}" localize --model "$run" --data "$data" --cam-samples 2 2>&1 > /dev/null | grep '^ham10000: [0-9]'
"${cli[@]}" localize --model "$run" --data "$data" --cam-samples 2 --method layercam --layer stage2_out 2>&1 > /dev/null | grep '^ham10000: [0-9]'
"${cli[@]}" localize --model "$run" --data "$data" --cam-samples 2 --aug-smooth 2>&1 > /dev/null | grep '^ham10000: [0-9]'
"${cli[@]}" localize --model "$run" --data "$data" --cam-samples 2 --method layercam --layer stage2_out --aug-smooth 2>&1 > /dev/null | grep '^ham10000: [0-9]'
"${cli[@]}" localize --model "$run" --data "$data" --cam-samples 2 --method layercam --layer stage1_out 2>&1 > /dev/null | grep '^ham10000: [0-9]'
"${cli[@]}" localize --model "$run" --data "$data" --cam-samples 2 --method layercam --layer stage1_out --aug-smooth 2>&1 > /dev/null | grep '^ham10000: [0-9]'
