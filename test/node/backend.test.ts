import * as tf from '@tensorflow/tfjs-core';
import { selectBackend, type ModuleLoader } from '../../src/node';

/** A loader that pretends only the named packages are installed (tfjs-node cannot be, here). */
function onlyInstalled(...present: string[]): ModuleLoader {
  return async (name) => {
    if (!present.includes(name)) throw new Error(`Cannot find module '${name}'`);
    return import(name);
  };
}

afterEach(async () => {
  await tf.setBackend('cpu');
});

describe('selectBackend', () => {
  it('picks the fastest backend present and says why the faster ones are absent', async () => {
    const chosen = await selectBackend({
      env: {},
      load: onlyInstalled('@tensorflow/tfjs-backend-wasm', '@tensorflow/tfjs-backend-cpu'),
    });
    expect(chosen.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(chosen.probes.map((p) => [p.name, p.available])).toEqual([
      ['cuda', false],
      ['tensorflow', false],
      ['wasm', true],
    ]);
    // One short line by default; why each one is absent only in the details (--verbose).
    expect(chosen.message).toBe("tfjs-trust: using the 'wasm' backend (fastest present); absent: cuda, tensorflow");
    expect(chosen.details).toMatch(/using the 'wasm' backend \(fastest present\); absent: cuda \(@tensorflow\/tfjs-node-gpu could not be loaded: Cannot find module/);
  });

  it('falls back to cpu when wasm is absent too', async () => {
    const chosen = await selectBackend({ env: {}, load: onlyInstalled('@tensorflow/tfjs-backend-cpu') });
    expect(chosen.name).toBe('cpu');
  });

  it('obeys TFJS_TRUST_BACKEND, and an explicit option over it', async () => {
    const viaEnv = await selectBackend({ env: { TFJS_TRUST_BACKEND: 'cpu' } });
    expect(viaEnv.name).toBe('cpu');
    expect(viaEnv.message).toMatch(/requested by TFJS_TRUST_BACKEND/);
    const explicit = await selectBackend({ backend: 'wasm', env: { TFJS_TRUST_BACKEND: 'cpu' } });
    expect(explicit.name).toBe('wasm');
  });

  it('fails clearly for a requested backend that is absent, or an unknown name', async () => {
    await expect(selectBackend({ backend: 'cuda', env: {}, load: onlyInstalled() })).rejects.toThrow(
      /no usable backend for 'cuda' .*Install @tensorflow\/tfjs-node-gpu or choose another backend\./,
    );
    await expect(selectBackend({ env: { TFJS_TRUST_BACKEND: 'tpu' } })).rejects.toThrow(
      "selectBackend: backend must be one of 'cuda', 'tensorflow', 'wasm', 'cpu'; got 'tpu'.",
    );
  });
});

describe('selectBackend options', () => {
  it('refuses a misspelt option, naming the nearest one', async () => {
    await expect(selectBackend({ backnd: 'cpu' } as never)).rejects.toThrow(
      /^selectBackend: options has unknown 'backnd'; did you mean 'backnd' → 'backend'\? The known options are 'backend', 'env', 'load'\.$/,
    );
  });
});
