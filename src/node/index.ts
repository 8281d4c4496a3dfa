/** Node-only helpers of tfjs-trust: backends, files and images. The core lives in `tfjs-trust`. */
import '../compatibility';
export { selectBackend, probeBackend, BACKENDS, BACKEND_ENV } from './backend';
export type { BackendName, BackendProbe, SelectBackendOptions, SelectedBackend, ModuleLoader } from './backend';
export { saveModel, loadModel, readModelArtifacts, writeFileAtomic, MODEL_JSON } from './model_io';
export { registerWasmTrainingKernels, WASM_TRAINING_KERNELS } from '../backends/wasm_training';
export { registerCpuTrainingKernels, CPU_TRAINING_KERNELS, type TrainingKernel } from '../backends/cpu_training';
export { registerNativeTrainingKernels, RELU_GRAD_KERNEL } from '../backends/native_training';
export { encodePng, writePng, writeOverlayPng } from './png';
