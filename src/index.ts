/**
 * tfjs-trust: Bayesian layers, Monte Carlo uncertainty and Grad-CAM explanations for
 * TensorFlow.js. This entry is isomorphic (browser and Node); Node-only helpers live in
 * `tfjs-trust/node`, the HAM10000 pipeline in `tfjs-trust/ham10000`.
 */
import { checkTfjsCore } from './compatibility';
export * from './errors';
export * from './conventions';
export { SeedStream } from './random';
export * from './layers';
export * from './uncertainty';
export * from './explain';
export * from './keras';

checkTfjsCore();
