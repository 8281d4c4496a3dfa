/** Node-only helpers of tfjs-trust: backends, files, images and Keras weights by path or on demand. The core lives in `tfjs-trust`. */
import { checkTfjsCore } from '../compatibility';
export { selectBackend, probeBackend, BACKENDS, BACKEND_ENV } from './backend';
export type { BackendName, BackendProbe, SelectBackendOptions, SelectedBackend, ModuleLoader } from './backend';
export { saveModel, loadModel, readModelArtifacts, writeFileAtomic, MODEL_JSON } from './model_io';
export { registerWasmTrainingKernels, WASM_TRAINING_KERNELS } from '../backends/wasm_training';
export { registerCpuTrainingKernels, CPU_TRAINING_KERNELS, type TrainingKernel } from '../backends/cpu_training';
export { registerNativeTrainingKernels, RELU_GRAD_KERNEL, SOFTPLUS_GRAD_KERNEL, BATCH_NORM_TRAINING_KERNEL } from '../backends/native_training';
export { nativeBatchNormalization } from '../backends/native_batch_norm';
export { loadCompiledKernels, COMPILED_KERNELS_ENV, COMPILED_KERNELS_FILE, type CompiledKernelsStatus } from '../backends/compiled_kernels';
export { encodePng, writePng, writeOverlayPng } from './png';
export { loadKerasWeights } from './keras';
export {
  cachedWeightFile,
  imagenetWeightSpec,
  weightsCacheDir,
  KERAS_APPLICATIONS_URL,
  CACHE_ENV,
  WEIGHTS_URL_ENV,
  IMAGENET_ARCHITECTURES,
  MOBILENET_V2_ALPHAS,
  MOBILENET_V2_ROWS,
} from './keras_applications';
export type { WeightFileSpec, CachedWeightFileOptions, ImagenetArchitecture } from './keras_applications';

checkTfjsCore();
