/**
 * A square float32 matrix product: the machine's practical peak, against which the other
 * workloads' effective GFLOP/s are read (`--compare-python` prints both).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Workload } from '../workload';

const workload: Workload = {
  name: 'matmul',
  description: 'a square float32 matrix product (the peak the other rows are compared with)',
  setup({ quick, seed }) {
    const size = quick ? 128 : 1024;
    const a = tf.randomNormal([size, size], 0, 1, 'float32', seed);
    return {
      params: { size },
      throughput: { items: 1, unit: 'products/s' },
      flops: 2 * size ** 3,
      run: () => tf.matMul(a, a),
      dispose: () => a.dispose(),
    };
  },
};
export default workload;
