import * as tf from '@tensorflow/tfjs-core';
import { backendHasKernel } from './kernel_hooks';
import { fillNormal, fillRademacher, fillUniform } from './noise';

/**
 * A reproducible stream of seeds. tfjs random ops take a seed per call; a layer that reused one
 * seed would draw the same noise every call, so each draw gets `hash(seed, salt, counter)`
 * instead. With no seed the stream yields `undefined`, and its noise is fresh on every draw.
 *
 * The noise itself comes from src/noise.ts (xoshiro128** and a ziggurat over typed arrays, ~3-10×
 * less CPU than tfjs' `randomNormal`), in JavaScript, or from a backend's kernel that draws the
 * same numbers (NORMAL_NOISE_KERNEL), so a seed gives the same samples on cpu, wasm, webgl and
 * tensorflow.
 */
export class SeedStream {
  private counter = 0;
  private readonly base: number | undefined;

  constructor(seed: number | undefined, salt: string) {
    this.base = seed === undefined ? undefined : mix(hashString(salt) ^ mix(seed >>> 0));
  }

  /** The next seed, or `undefined` when the stream is unseeded. */
  next(): number | undefined {
    if (this.base === undefined) return undefined;
    this.counter += 1;
    return mix(this.base + Math.imul(this.counter, 0x9e3779b9));
  }

  /** Standard normal noise of the given shape. */
  normal(shape: number[]): tf.Tensor {
    return this.fill(shape, fillNormal, NORMAL_NOISE_KERNEL);
  }

  /** Rademacher signs (±1 with equal probability), as Flipout needs. */
  rademacher(shape: number[]): tf.Tensor {
    return this.fill(shape, fillRademacher, RADEMACHER_NOISE_KERNEL);
  }

  /** Uniform noise in [0, 1). */
  uniform(shape: number[]): tf.Tensor {
    return this.fill(shape, fillUniform);
  }

  /**
   * Whether `normal` and `rademacher` draw `fillNormal`'s and `fillRademacher`'s numbers for
   * `drawSeed`'s seeds, so that a fused kernel may draw them instead: false in a subclass that
   * overrides either (a test replaying fixed noise).
   */
  get drawsOwnNoise(): boolean {
    return this.normal === SeedStream.prototype.normal && this.rademacher === SeedStream.prototype.rademacher;
  }

  /** The seed of the next draw: the stream's next, or a fresh random one when it is unseeded. */
  drawSeed(): number {
    return this.next() ?? Math.floor(Math.random() * UINT32_RANGE);
  }

  private fill(shape: number[], fill: (out: Float32Array, seed: number) => Float32Array, kernelName?: string): tf.Tensor {
    const seed = this.drawSeed();
    if (kernelName !== undefined && backendHasKernel(kernelName)) {
      return tf.engine().runKernel(kernelName, {}, { shape, seed }) as tf.Tensor;
    }
    return tf.tensor(fill(new Float32Array(shape.reduce((size, axis) => size * axis, 1)), seed), shape, 'float32');
  }
}

/**
 * Kernels a backend may register to draw `fillNormal`'s and `fillRademacher`'s numbers (attributes
 * `shape` and `seed`; no inputs) where they are needed: `registerNativeTrainingKernels` registers
 * them for `tensorflow` from tfjs-trust's compiled kernels, which draw the same numbers bit for bit
 * ~3× faster and without copying them to the backend.
 */
export const NORMAL_NOISE_KERNEL = 'TfjsTrustNormalNoise';
export const RADEMACHER_NOISE_KERNEL = 'TfjsTrustRademacherNoise';

const UINT32_RANGE = 2 ** 32;

/** murmur3's 32-bit finaliser: spreads every input bit over the output. */
function mix(value: number): number {
  let h = value | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a, so different salts (or stream names) give unrelated streams for the same seed. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A small seeded random number generator for plain-JavaScript choices (the data layer's shuffles,
 * splits, sampling and synthetic images; resampling of metrics). tfjs' own random ops take a seed per call, but these
 * choices never touch a tensor, so they draw from mulberry32 (Tommy Ettinger's 32-bit generator):
 * fast, tiny, and identical on every platform for a given seed.
 */
export class Rng {
  private state: number;
  private readonly seed: number;
  private readonly streams: (string | number)[];

  /** `streams` (any strings or numbers) select an independent stream for the same seed. */
  constructor(seed: number, ...streams: (string | number)[]) {
    this.seed = seed;
    this.streams = streams;
    let state = seed >>> 0;
    for (const stream of streams) state = hashString(`${state}:${stream}`);
    this.state = state;
  }

  /** An independent generator for a sub-stream, derived from this one's seed (not its position). */
  fork(stream: string | number): Rng {
    return new Rng(this.seed, ...this.streams, stream);
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform in [min, max). */
  uniform(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** A uniform integer in [min, max] (both inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** Standard normal, by the Box-Muller transform. */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** One element of a non-empty list, uniformly. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** A shuffled copy (Fisher-Yates), leaving `items` untouched. */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }
}
