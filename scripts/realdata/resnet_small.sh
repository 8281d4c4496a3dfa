#!/usr/bin/env bash
# Recipe 3 of docs/ham10000.md: the small residual network with batch norm (--arch resnet-small)
# from scratch at 64 px on the native backend, then evaluated with and without test-time
# augmentation (three operating points: argmax, prior shift, class weights fitted on validation
# with a melanoma recall floor), and its maps scored on the lesion masks: the candidate maps on the
# validation split (where the network's default map, LayerCAM at stage1_out aug-smoothed, was
# chosen), then the default map and Grad-CAM at the last stage on the test split.
#
#   bash scripts/realdata/resnet_small.sh [SEED] [DATA] [OUT]   # defaults: 42 ../shared/ham10000 runs/real
#   HEAD=dense bash scripts/realdata/resnet_small.sh 42          # the same network without the Bayesian head
#   EPOCHS=10 ...                                                # epochs of the cosine schedule (default 20)
#
# Needs tfjs-node (`npm run setup:native`): 18-45 s an epoch on 2 cores with the native batch
# norm and pooling kernels (measured 2026-11-29, load 2-7), 10-20 minutes a run with evaluation
# and localization. An interrupted run continues where it stopped when the script is run again
# (train --resume). Logs in OUT/r64e<EPOCHS>-s<SEED>-<HEAD>.log; prints the operating points and
# localization lines; skips when DATA is absent.
set -euo pipefail
source "$(dirname "$0")/common.sh"
head="${HEAD:-flipout}"
epochs="${EPOCHS:-20}"
export TFJS_TRUST_BACKEND="${TFJS_TRUST_BACKEND:-tensorflow}"
run="$out/r64e$epochs-s$seed-$head"
mkdir -p "$out"
resume=()
if [ -f "$run/checkpoints/latest.json" ]; then resume=(--resume); fi
"${cli[@]}" train --data "$data" --out "$run" --arch resnet-small --image-size 64 --epochs "$epochs" --batch-size 32 \
  --learning-rate 0.003 --lr-schedule cosine --balance none --augment --seed "$seed" --head "$head" ${resume[@]+"${resume[@]}"} >> "$run.log" 2>&1
for tta in --tta ""; do
  "${cli[@]}" evaluate --model "$run" --data "$data" --samples 32 $tta 2>&1 > /dev/null | grep -E '^(ham10000: [0-9]|  decision)'
done
localize() { "${cli[@]}" localize --model "$run" --data "$data" --cam-samples 2 "$@" 2>&1 > /dev/null | grep '^ham10000: [0-9]'; }
for map in "--method gradcam --layer stage3_out" "--method layercam --layer stage2_out" "--method layercam --layer stage1_out"; do
  for smooth in --aug-smooth --no-aug-smooth; do localize --split validation $map $smooth; done
done
localize                                                                  # the network's map: LayerCAM, stage1_out, aug-smoothed
localize --method gradcam --layer stage3_out --no-aug-smooth              # Grad-CAM at the last stage
