import { DEGENERATE_BANDWIDTH, kernelDensity } from '../../src';
import { Rng } from '../../src/random';

/** Trapezoid rule over the evaluation grid. */
const integral = ({ x, density }: { x: number[]; density: number[] }): number =>
  density.slice(1).reduce((sum, d, i) => sum + ((d + density[i]) / 2) * (x[i + 1] - x[i]), 0);

describe('kernelDensity', () => {
  const values = [1, 2, 3, 4, 5];

  it("Silverman's rule: 0.9 · min(σ, IQR / 1.34) · n^(−1/5), by hand", () => {
    // σ = sqrt(2.5), IQR = 4 − 2 = 2 (type-7 quartiles), n = 5.
    const expected = 0.9 * Math.min(Math.sqrt(2.5), 2 / 1.34) * 5 ** -0.2;
    expect(kernelDensity(values).bandwidth).toBeCloseTo(expected, 12);
  });

  it("Scott's rule: 1.06 · σ · n^(−1/5), by hand", () => {
    expect(kernelDensity(values, { bandwidth: 'scott' }).bandwidth).toBeCloseTo(1.06 * Math.sqrt(2.5) * 5 ** -0.2, 12);
  });

  it("the oversmoothed rule: 1.144 · σ · n^(−1/5) (Terrell 1990), by hand", () => {
    expect(kernelDensity(values, { bandwidth: 'oversmoothed' }).bandwidth).toBeCloseTo(1.144 * Math.sqrt(2.5) * 5 ** -0.2, 12);
  });

  it('30 samples of one normal: the oversmoothed curve shows one mode where Silverman shows spurious ones', () => {
    const modes = (density: number[]) => density.filter((d, i) => i > 0 && i < density.length - 1 && d > density[i - 1] && d >= density[i + 1]).length;
    const counts = { silverman: 0, oversmoothed: 0 };
    const draws = 200;
    for (let seed = 0; seed < draws; seed++) {
      const rng = new Rng(seed);
      const samples = Array.from({ length: 30 }, () => 0.3 + 0.05 * rng.normal());
      for (const rule of ['silverman', 'oversmoothed'] as const) {
        counts[rule] += modes(kernelDensity(samples, { bandwidth: rule, range: [0, 1], points: 256 }).density) > 1 ? 1 : 0;
      }
    }
    // Terrell's bound is the widest the spread allows: a spurious mode in under 15 % of draws
    // (7.5 % seen), against half of them under Silverman's rule (52 % seen).
    expect(counts.oversmoothed / draws).toBeLessThan(0.15);
    expect(counts.silverman).toBeGreaterThan(3 * counts.oversmoothed);
  });

  it('integrates to 1 over the default range (data ± 3 bandwidths) and peaks at 1 / (sqrt(2π) h) for one value', () => {
    expect(integral(kernelDensity(values, { points: 512 }))).toBeCloseTo(0.997, 2);
    const single = kernelDensity([0.4], { bandwidth: 0.05, points: 3, range: [0.3, 0.5] });
    expect(single.x).toEqual([0.3, 0.4, 0.5]);
    expect(single.density[1]).toBeCloseTo(1 / (Math.sqrt(2 * Math.PI) * 0.05), 10);
  });

  it('values with no spread (a deterministic model) give a narrow spike, not NaN', () => {
    const spike = kernelDensity([0.7, 0.7, 0.7], { range: [0, 1] });
    expect(spike.bandwidth).toBe(DEGENERATE_BANDWIDTH);
    expect(spike.density.every(Number.isFinite)).toBe(true);
  });

  it.each([
    [[], {}, /kernelDensity: values must be a non-empty array of finite numbers; got \[\]/],
    [[1, NaN], {}, /values must be a non-empty array of finite numbers; got \[1, NaN\]/],
    [[1, 2], { bandwidth: 0 }, /options.bandwidth must be a number > 0; got 0/],
    [[1, 2], { bandwidth: 'wide' }, /options.bandwidth must be 'silverman', 'scott', 'oversmoothed' or a positive number; got 'wide'/],
    [[1, 2], { points: 1 }, /options.points must be an integer >= 2; got 1/],
    [[1, 2], { range: [1, 0] }, /options.range must be finite \[low, high\] with low < high; got \[1, 0\]/],
  ])('refuses values %j with options %j', (bad, options, message) => {
    expect(() => kernelDensity(bad as number[], options as never)).toThrow(message);
  });
});
