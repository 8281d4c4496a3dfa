import * as tf from '@tensorflow/tfjs-core';
import { chunkSeed, fillNormal, fillRademacher, fillUniform, NORMAL_CHUNK, NORMAL_LANES, Xoshiro128 } from '../src/noise';
import { SeedStream } from '../src/random';

const N = 1 << 20;
/** Draws in a Kolmogorov-Smirnov test, and its critical value at α = 0.001 (asymptotic): 1.949 / √n. */
const KS_N = 1 << 18;
const KS_CRITICAL = 1.949 / Math.sqrt(KS_N);
/** Where the ziggurat's tail starts (its base layer's right edge, R, for 256 layers). */
const TAIL_START = 3.6541528853610088;
/** The area of each of its layers, V. */
const LAYER_AREA = 4.92867323399e-3;

/** Φ(x) from erfc: its Taylor series for |z| < 3, else Laplace's continued fraction (both ~1e-12 here). */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  let erfc: number;
  if (z < 3) {
    let term = z;
    let sum = z;
    for (let k = 1; k < 200; k++) {
      term *= (-z * z) / k;
      sum += term / (2 * k + 1);
      if (Math.abs(term) < 1e-17) break;
    }
    erfc = 1 - (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    let fraction = 0;
    for (let k = 60; k >= 1; k--) fraction = k / 2 / (z + fraction);
    erfc = Math.exp(-z * z) / Math.sqrt(Math.PI) / (z + fraction);
  }
  return x >= 0 ? 1 - erfc / 2 : erfc / 2;
}

/** The largest gap between the empirical CDF of `values` and `cdf`. */
function ksStatistic(values: Float32Array, cdf: (x: number) => number): number {
  const sorted = Float64Array.from(values).sort();
  let worst = 0;
  for (let i = 0; i < sorted.length; i++) {
    const p = cdf(sorted[i]);
    worst = Math.max(worst, Math.abs(p - i / sorted.length), Math.abs((i + 1) / sorted.length - p));
  }
  return worst;
}

function moments(values: Float32Array): { mean: number; variance: number; kurtosis: number; lag1: number } {
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / values.length;
  let m2 = 0;
  let m4 = 0;
  let lag = 0;
  for (let i = 0; i < values.length; i++) {
    const d = values[i] - mean;
    m2 += d * d;
    m4 += d ** 4;
    if (i > 0) lag += d * (values[i - 1] - mean);
  }
  const variance = m2 / values.length;
  return { mean, variance, kurtosis: m4 / values.length / variance ** 2, lag1: lag / m2 };
}

describe('fillNormal (xoshiro128** + ziggurat)', () => {
  const values = fillNormal(new Float32Array(N), 12345);

  it('draws N(0, 1): mean, variance, kurtosis 3 and no lag-1 correlation, within 5 standard errors', () => {
    const { mean, variance, kurtosis, lag1 } = moments(values);
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(N));
    expect(Math.abs(variance - 1)).toBeLessThan(5 * Math.sqrt(2 / N));
    expect(Math.abs(kurtosis - 3)).toBeLessThan(5 * Math.sqrt(24 / N));
    expect(Math.abs(lag1)).toBeLessThan(5 / Math.sqrt(N));
  });

  it('passes Kolmogorov-Smirnov against the normal CDF (α = 0.001), and Φ itself is right', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 12);
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 10);
    // The ziggurat's layer area V = R·f(R) + ∫_R^∞ f (Marsaglia and Tsang 2000), so Φ(−R) = (V − R·f(R)) / √(2π).
    expect(normalCdf(-TAIL_START)).toBeCloseTo((LAYER_AREA - TAIL_START * Math.exp(-0.5 * TAIL_START ** 2)) / Math.sqrt(2 * Math.PI), 10);
    expect(ksStatistic(values.subarray(0, KS_N), normalCdf)).toBeLessThan(KS_CRITICAL);
  });

  it('puts the right mass in the tail beyond R (the tail algorithm), and signs independent of magnitudes', () => {
    let beyond = 0;
    for (const v of values) if (Math.abs(v) > TAIL_START) beyond++;
    const expected = 2 * normalCdf(-TAIL_START) * N;
    expect(Math.abs(beyond - expected)).toBeLessThan(5 * Math.sqrt(expected));
    // And the right shape there: Kolmogorov-Smirnov of |x| given |x| > R against Φ's conditional tail.
    const tail = Float32Array.from(values.filter((v) => Math.abs(v) > TAIL_START), Math.abs);
    const tailCdf = (x: number) => 1 - normalCdf(-x) / normalCdf(-TAIL_START);
    expect(ksStatistic(tail, tailCdf)).toBeLessThan(1.949 / Math.sqrt(tail.length));
    // The sign is independent of the magnitude (Doornik's fix: no bit serves both).
    let positiveLarge = 0;
    let large = 0;
    for (const v of values) {
      if (Math.abs(v) > 1) {
        large++;
        if (v > 0) positiveLarge++;
      }
    }
    expect(Math.abs(positiveLarge - large / 2)).toBeLessThan(5 * Math.sqrt(large / 4));
  });

  it('draws each chunk from its own streams, the first from the seed, the others uncorrelated with it', () => {
    expect(chunkSeed(12345, 0)).toBe(12345);
    const seeds = new Set(Array.from({ length: 64 }, (_, chunk) => chunkSeed(12345, chunk)));
    expect(seeds.size).toBe(64);
    // Chunks side by side: their product moment is that of independent N(0, 1) draws.
    let cross = 0;
    for (let i = 0; i < NORMAL_CHUNK; i++) cross += values[i] * values[NORMAL_CHUNK + i];
    expect(Math.abs(cross / NORMAL_CHUNK)).toBeLessThan(5 / Math.sqrt(NORMAL_CHUNK));
  });

  it(`draws a chunk as ${NORMAL_LANES} interleaved lanes of one draw a value each, the first from the seed's own stream`, () => {
    // Lane 0 (values 0, 16, 32, ...): a draw inside the ziggurat's rectangle (~98.5 %) is the value
    // normalFrom gives without reading further draws (to float32 rounding of its layer's edge).
    const own = new Xoshiro128(12345);
    let matches = 0;
    for (let j = 0; j < 200; j++) {
      const fromBits = new Xoshiro128(0).normalFrom(own.nextBits());
      if (Math.abs(values[NORMAL_LANES * j] - fromBits) <= 1e-6 * Math.abs(fromBits)) matches++;
    }
    expect(matches).toBeGreaterThanOrEqual(190);
    // The lanes' streams start from distinct states, and neighbouring lanes are uncorrelated.
    const firsts = new Set(Array.from({ length: 2 * NORMAL_LANES }, (_, stream) => new Xoshiro128(12345, stream).nextBits()));
    expect(firsts.size).toBe(2 * NORMAL_LANES);
    let cross = 0;
    for (let i = 0; i + 1 < NORMAL_CHUNK; i++) if (i % NORMAL_LANES !== NORMAL_LANES - 1) cross += values[i] * values[i + 1];
    const pairs = (NORMAL_CHUNK / NORMAL_LANES) * (NORMAL_LANES - 1);
    expect(Math.abs(cross / pairs)).toBeLessThan(5 / Math.sqrt(pairs));
  });

  it('is reproducible from its seed, and different seeds give different streams', () => {
    expect(fillNormal(new Float32Array(1000), 12345)).toEqual(values.subarray(0, 1000));
    const other = fillNormal(new Float32Array(1000), 12346);
    expect(other).not.toEqual(values.subarray(0, 1000));
  });
});

describe('fillRademacher', () => {
  it('draws ±1 with equal probability, independently of position, for any length', () => {
    const signs = fillRademacher(new Float32Array(N + 7), 7);
    expect(signs.every((s) => s === 1 || s === -1)).toBe(true);
    const { mean, lag1 } = moments(signs);
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(N));
    expect(Math.abs(lag1)).toBeLessThan(5 / Math.sqrt(N));
    // Each of the 32 bit positions of a draw is fair.
    for (let bit = 0; bit < 32; bit++) {
      let sum = 0;
      for (let i = bit; i < N; i += 32) sum += signs[i];
      expect(Math.abs(sum)).toBeLessThan(5 * Math.sqrt(N / 32));
    }
  });
});

describe('fillUniform', () => {
  it('draws U[0, 1): never 1, and passes Kolmogorov-Smirnov (α = 0.001)', () => {
    const values = fillUniform(new Float32Array(KS_N), 99);
    expect(values.every((v) => v >= 0 && v < 1)).toBe(true);
    expect(ksStatistic(values, (x) => Math.min(Math.max(x, 0), 1))).toBeLessThan(KS_CRITICAL);
  });
});

describe('Xoshiro128', () => {
  it('gives 32 fair bits per draw', () => {
    const rng = new Xoshiro128(1);
    const ones = new Array<number>(32).fill(0);
    const draws = 1 << 16;
    for (let i = 0; i < draws; i++) {
      const bits = rng.nextBits();
      for (let b = 0; b < 32; b++) ones[b] += (bits >>> b) & 1;
    }
    for (const count of ones) expect(Math.abs(count - draws / 2)).toBeLessThan(5 * Math.sqrt(draws / 4));
  });
});

describe('SeedStream noise tensors', () => {
  it('have the shape asked for, repeat for a seed, and are fresh without one', () => {
    const draw = (seed: number | undefined) => {
      const stream = new SeedStream(seed, 'test');
      return [stream.normal([3, 4]), stream.rademacher([2, 5]), stream.uniform([7])];
    };
    const [a, b] = [draw(5), draw(5)];
    expect(a.map((t) => t.shape)).toEqual([[3, 4], [2, 5], [7]]);
    a.forEach((t, i) => expect(t.dataSync()).toEqual(b[i].dataSync()));
    const [c, d] = [draw(undefined), draw(undefined)];
    expect(c[0].dataSync()).not.toEqual(d[0].dataSync());
    tf.dispose([...a, ...b, ...c, ...d]);
  });
});
