/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.tsx?$': ['@swc/jest'] },
  setupFilesAfterEnv: ['<rootDir>/test/setup.ts'],
  // tfjs kernels are CPU-bound: one worker per core, no more.
  maxWorkers: 2,
  testTimeout: 120000,
};
