/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.tsx?$': ['@swc/jest'], '/node_modules/h5wasm/.+\\.js$': ['@swc/jest'] },
  // h5wasm ships only an ES module: jest (CommonJS) gets it transformed, through its browser/Node build.
  transformIgnorePatterns: ['/node_modules/(?!h5wasm/)'],
  moduleNameMapper: { '^h5wasm$': '<rootDir>/node_modules/h5wasm/dist/esm/hdf5_hl.js' },
  setupFilesAfterEnv: ['<rootDir>/test/setup.ts'],
  // tfjs kernels are CPU-bound: one worker per core, no more.
  maxWorkers: 2,
  testTimeout: 120000,
};
