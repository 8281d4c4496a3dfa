/**
 * The Monte Carlo predictor's speed design (issue 4): a VGG16 base with a DenseFlipout head,
 * S samples of a batch. Side by side: the fast path (base once, head batched over S × B rows in
 * local-reparameterisation mode), the loop over the head (base once, S head passes), the naive
 * loop of the original article (S whole-network predictions) and one deterministic forward pass.
 * Goals: fast ≤ 1.3 × forward, and ≥ 30 × faster than the naive loop.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { DenseFlipout, mcPredict, withSampling } from '../../src';
import { vgg16 } from '../../src/ham10000/vgg16';
import { forwardFlops } from '../flops';
import type { PreparedWorkload, RunOutput, Workload, WorkloadContext } from '../workload';

const CLASSES = 7;
const NAIVE_LOOP = 'mc-predict-naive-loop';

/**
 * Sizes: 224 px, S = 100, batch 8. The cpu backend takes ~6 s for one 32 px VGG16 pass of 2
 * images on 2 cores, so it runs 32 px, batch 2 (the naive loop is then ~10 min a run: use --runs 1).
 */
function sizes({ quick, backend }: WorkloadContext): { size: number; samples: number; batch: number; note?: string } {
  if (quick) return { size: 32, samples: 4, batch: 1 };
  if (backend === 'cpu') return { size: 32, samples: 100, batch: 2, note: 'cpu: 32 px, batch 2 (224 px × S passes takes hours)' };
  return { size: 224, samples: 100, batch: 8 };
}

function variant(name: string, description: string, run: (model: tfl.LayersModel, images: tf.Tensor, samples: number) => RunOutput): Workload {
  return {
    name,
    description,
    async setup(context: WorkloadContext): Promise<PreparedWorkload> {
      const { size, samples, batch, note } = sizes(context);
      const base = (await vgg16({ inputShape: [size, size, 3], seed: context.seed })).model;
      const head = new DenseFlipout({ units: CLASSES, activation: 'softmax', seed: context.seed });
      const model = tfl.sequential({ layers: [base, tfl.layers.flatten(), head] });
      const images = tf.randomUniform([batch, size, size, 3], 0, 255, 'float32', context.seed);
      return {
        params: { size, samples, batch },
        throughput: { items: batch, unit: 'images/s' },
        // The base's passes (the head's S samples are ~0.1 % of the work): S in the naive loop, else one.
        flops: forwardFlops(base, batch) * (name === NAIVE_LOOP ? samples : 1),
        note,
        run: () => run(model, images, samples),
        dispose: () => {
          images.dispose();
          model.dispose();
        },
      };
    },
  };
}

/** The mean, enough to make the harness wait for the work; the rest of the prediction is freed. */
function meanOf(model: tfl.LayersModel, images: tf.Tensor, samples: number, strategy: 'fast' | 'naive'): tf.Tensor {
  const prediction = mcPredict(model, images, { samples, seed: 1, strategy });
  const mean = tf.clone(prediction.mean);
  prediction.dispose();
  return mean;
}

const workloads: Workload[] = [
  variant('mc-predict-fast', 'mcPredict fast path: VGG16 base once, DenseFlipout head batched over S × B rows', (m, x, s) => meanOf(m, x, s, 'fast')),
  variant('mc-predict-head-loop', "mcPredict 'naive' strategy: VGG16 base once, S passes of the head", (m, x, s) => meanOf(m, x, s, 'naive')),
  variant(NAIVE_LOOP, 'the original article: S whole-network predictions, then their mean', (m, x, s) =>
    tf.tidy(() => {
      let sum = tf.zeros([x.shape[0], CLASSES]);
      for (let i = 0; i < s; i++) sum = tf.add(sum, m.predict(x) as tf.Tensor);
      return tf.div(sum, s);
    }),
  ),
  variant('mc-predict-forward', 'one deterministic forward pass (posterior mean) of the same model', (m, x) =>
    withSampling(m, { mode: 'mean' }, () => m.predict(x) as tf.Tensor),
  ),
];
export default workloads;
