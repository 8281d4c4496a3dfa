/**
 * Soak test (issue 10): many rounds of Monte Carlo prediction and Grad-CAM on a mid-size Bayesian
 * CNN, recording the tfjs tensor count, tfjs bytes and process memory every `every` rounds. A
 * library that leaks shows a count that climbs; here it must stay exactly flat, and process memory
 * must stay within a small allowance of its value after the warm-up.
 *
 *   npm run soak                                   # 1,000 rounds on the fastest backend present
 *   npm run soak -- --rounds 200 --every 20 --backend cpu
 *
 * Exits 1 when either is not flat. `runSoak` is also what test/reliability/soak.test.ts runs, shorter.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { DenseFlipout, gradCam, mcPredict } from '../src';

export interface SoakOptions {
  /** Rounds of (MC prediction + Grad-CAM). Default 1000. */
  rounds?: number;
  /** A checkpoint every this many rounds. Default 50. */
  every?: number;
  /** Image side in pixels. Default 64 (the mid-size model: ~90k weights, 3 conv blocks). */
  size?: number;
  /** Images per batch. Default 4. */
  batch?: number;
  /** Monte Carlo samples per prediction. Default 30. */
  samples?: number;
  seed?: number;
  /** Called at each checkpoint, e.g. to print it. */
  onCheckpoint?: (checkpoint: SoakCheckpoint) => void;
}

export interface SoakCheckpoint {
  round: number;
  tensors: number;
  tfjsBytes: number;
  rssMB: number;
  heapUsedMB: number;
}

export interface SoakReport {
  checkpoints: SoakCheckpoint[];
  /** Tensor count and tfjs bytes identical at every checkpoint. */
  tensorsFlat: boolean;
  /** Heap growth from the first checkpoint to the last, in MB (after a GC when one can be forced). */
  heapGrowthMB: number;
  rssGrowthMB: number;
}

/** The model: three conv blocks, global pooling and two Flipout layers, seeded. */
export function soakModel(size: number, seed: number): tfl.LayersModel {
  const conv = (filters: number, name: string, inputShape?: number[]) =>
    tfl.layers.conv2d({ filters, kernelSize: 3, padding: 'same', activation: 'relu', name, inputShape, kernelInitializer: tfl.initializers.heNormal({ seed: seed + filters }) });
  return tfl.sequential({
    layers: [
      conv(16, 'block1_conv', [size, size, 3]),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      conv(32, 'block2_conv'),
      tfl.layers.maxPooling2d({ poolSize: 2 }),
      conv(64, 'block3_conv'),
      tfl.layers.globalAveragePooling2d({}),
      new DenseFlipout({ units: 64, activation: 'relu', seed }),
      new DenseFlipout({ units: 7, activation: 'softmax', seed: seed + 1 }),
    ],
  });
}

const MB = 2 ** 20;

function checkpoint(round: number): SoakCheckpoint {
  (globalThis as { gc?: () => void }).gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  const { numTensors, numBytes } = tf.memory();
  return { round, tensors: numTensors, tfjsBytes: numBytes, rssMB: rss / MB, heapUsedMB: heapUsed / MB };
}

/** Runs the soak; the model and images are made and disposed inside, so it leaves nothing behind. */
export function runSoak(options: SoakOptions = {}): SoakReport {
  const { rounds = 1000, every = 50, size = 64, batch = 4, samples = 30, seed = 7, onCheckpoint } = options;
  const model = soakModel(size, seed);
  const images = tf.randomUniform([batch, size, size, 3], 0, 1, 'float32', seed);
  const checkpoints: SoakCheckpoint[] = [];
  try {
    for (let round = 1; round <= rounds; round++) {
      const prediction = mcPredict(model, images, { samples, seed: seed + round });
      const predicted = tf.tidy(() => Array.from(tf.argMax(prediction.mean, 1).dataSync()));
      prediction.dispose();
      tf.dispose(gradCam(model, 'block3_conv', predicted, images as tf.Tensor4D));
      if (round % every === 0) {
        checkpoints.push(checkpoint(round));
        onCheckpoint?.(checkpoints[checkpoints.length - 1]);
      }
    }
  } finally {
    images.dispose();
    model.dispose();
  }
  const [first, last] = [checkpoints[0], checkpoints[checkpoints.length - 1]];
  return {
    checkpoints,
    tensorsFlat: checkpoints.every((c) => c.tensors === first.tensors && c.tfjsBytes === first.tfjsBytes),
    heapGrowthMB: last.heapUsedMB - first.heapUsedMB,
    rssGrowthMB: last.rssMB - first.rssMB,
  };
}

/** Process memory counts as flat when it grows by less than this after the first checkpoint. */
export const MEMORY_ALLOWANCE_MB = 32;

function flag(args: string[], name: string): string | undefined {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? args[index + 1] : undefined;
}

async function main(args: string[]): Promise<number> {
  const { selectBackend } = await import('../src/node');
  const number = (name: string) => (flag(args, name) === undefined ? undefined : Number(flag(args, name)));
  const backend = await selectBackend({ backend: flag(args, 'backend') as never });
  console.log(backend.message);
  if (!(globalThis as { gc?: unknown }).gc) console.log('soak: no --expose-gc, so memory is read without forcing a GC (noisier).');
  console.log('round  tensors  tfjs MB   rss MB  heap MB');
  const started = Date.now();
  const report = runSoak({
    rounds: number('rounds'),
    every: number('every'),
    samples: number('samples'),
    size: number('size'),
    onCheckpoint: (c) =>
      console.log(
        `${String(c.round).padStart(5)}  ${String(c.tensors).padStart(7)}  ${(c.tfjsBytes / MB).toFixed(2).padStart(7)}  ` +
          `${c.rssMB.toFixed(1).padStart(7)}  ${c.heapUsedMB.toFixed(1).padStart(7)}`,
      ),
  });
  const memoryFlat = report.heapGrowthMB < MEMORY_ALLOWANCE_MB && report.rssGrowthMB < MEMORY_ALLOWANCE_MB;
  console.log(
    `soak: ${report.checkpoints.at(-1)?.round} rounds in ${((Date.now() - started) / 1000).toFixed(0)} s on '${backend.name}'; ` +
      `tensors ${report.tensorsFlat ? 'flat' : 'NOT flat'}; heap ${report.heapGrowthMB.toFixed(1)} MB, ` +
      `rss ${report.rssGrowthMB.toFixed(1)} MB from the first checkpoint to the last (${memoryFlat ? 'flat' : 'NOT flat'}: allowance ${MEMORY_ALLOWANCE_MB} MB).`,
  );
  return report.tensorsFlat && memoryFlat ? 0 : 1;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      console.error(`soak: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
