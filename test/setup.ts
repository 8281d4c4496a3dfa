import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';

// Tests run on the pure-JS backend, present everywhere; IS_TEST silences tfjs' "install tfjs-node" banner.
tf.env().set('IS_TEST', true);
// Chosen now, before the test file's imports run: importing @tensorflow/tfjs-backend-wasm registers the
// WASM backend, whose higher priority would otherwise make a module-level tensor wait for its init.
void tf.setBackend('cpu');
beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});
