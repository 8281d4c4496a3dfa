import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

// Tests run on the pure-JS backend, present everywhere; IS_TEST silences tfjs' "install tfjs-node" banner.
tf.env().set('IS_TEST', true);
beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});
