import { hashString } from '../random';

/**
 * A small seeded random number generator for the data layer's plain-JavaScript choices (shuffles,
 * splits, sampling, synthetic images). tfjs' own random ops take a seed per call, but these
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
