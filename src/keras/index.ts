/** Keras weight files (.h5, .weights.h5, .keras) read from bytes into tfjs-layers models: isomorphic. */
export { loadKerasWeights } from './assign';
export type { KerasWeightsLoaded } from './assign';
export { readKerasWeights } from './read';
export type { KerasWeightFile, KerasWeightFormat, KerasLayerWeights, KerasWeight } from './read';
