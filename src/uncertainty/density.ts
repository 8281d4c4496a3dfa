import { ArgumentError } from '../errors';
import { checkNumber, checkOptions, invalidArgument, optionKeys } from '../validation';

/** The rules of thumb `kernelDensity` can pick its bandwidth by (formulas on `kernelDensity`). */
export type BandwidthRule = 'silverman' | 'scott' | 'oversmoothed';
/** Every bandwidth rule, for validation. */
export const BANDWIDTH_RULES: readonly BandwidthRule[] = ['silverman', 'scott', 'oversmoothed'];

/** Options of `kernelDensity`: where the density is evaluated and how wide the kernels are. */
export interface KernelDensityOptions {
  /** Number of evenly spaced points the density is evaluated at. Default 128. */
  points?: number;
  /** A rule of thumb, or the Gaussian kernel's standard deviation itself. Default `'silverman'`. */
  bandwidth?: BandwidthRule | number;
  /** Where to evaluate, e.g. [0, 1] for probabilities. Default: the data range widened by 3 bandwidths. */
  range?: [number, number];
}

/** A Gaussian kernel density estimate on a grid, ready to plot as `density` against `x`. */
export interface KernelDensity {
  /** The evaluation points, evenly spaced over the range, increasing. */
  x: number[];
  /** The estimated density at each point of `x`. */
  density: number[];
  /** The Gaussian kernel's standard deviation actually used. */
  bandwidth: number;
}

const DEFAULT_POINTS = 128;
const DENSITY_OPTIONS = optionKeys<KernelDensityOptions>({ points: true, bandwidth: true, range: true });
/** Far more points than any plot needs, and arrays that always fit in memory. */
const MAX_POINTS = 1_000_000;
/** Kernel widths either side of the data covered by the default range: 99.7 % of each kernel's mass. */
const RANGE_WIDTHS = 3;
/**
 * The bandwidth used when the values have no spread at all (a deterministic model): a narrow
 * spike on the probability scale instead of a division by zero.
 */
export const DEGENERATE_BANDWIDTH = 1e-3;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/**
 * Gaussian kernel density estimate of `values`: the curve clinicians read as "how sure is the
 * model that this lesion is class c" (probability on x, density on y).
 * Bandwidth rules (h = kernel standard deviation, n = number of values, σ = standard deviation):
 * - `'silverman'`: h = 0.9 · min(σ, IQR / 1.34) · n^(−1/5), Silverman 1986, "Density Estimation", eq. 3.31
 *   (R's `bw.nrd0`): robust to the skewed, multi-modal sample clouds of a softmax output.
 * - `'scott'`: h = 1.06 · σ · n^(−1/5), Scott 1992, "Multivariate Density Estimation", eq. 6.2 (Gaussian reference).
 * - `'oversmoothed'`: h = 1.144 · σ · n^(−1/5), Terrell 1990, "The maximal smoothing principle in
 *   density estimation", JASA 85: the widest bandwidth the data's spread allows, so every bump it
 *   shows is in the data. What the plots use: 30 Monte Carlo samples under Silverman's rule show
 *   wiggles that are sampling noise, not modes.
 * The density integrates to 1 over the real line; a finite `range` cuts off the kernels' tails.
 */
export function kernelDensity(values: number[], given: KernelDensityOptions = {}): KernelDensity {
  const who = 'kernelDensity';
  const options = checkOptions(who, given, DENSITY_OPTIONS);
  if (!Array.isArray(values) || values.length === 0 || !values.every(Number.isFinite)) {
    invalidArgument(who, 'values', 'a non-empty array of finite numbers', values);
  }
  const points = checkNumber(who, 'options.points', options.points ?? DEFAULT_POINTS, { min: 2, integer: true });
  if (points > MAX_POINTS) invalidArgument(who, 'options.points', `at most ${MAX_POINTS}`, points);
  const bandwidth = resolveBandwidth(who, values, options.bandwidth ?? 'silverman');
  const [low, high] = options.range ?? [minimum(values) - RANGE_WIDTHS * bandwidth, maximum(values) + RANGE_WIDTHS * bandwidth];
  if (!(Number.isFinite(low) && Number.isFinite(high) && low < high)) {
    invalidArgument(who, 'options.range', 'finite [low, high] with low < high', options.range);
  }
  const step = (high - low) / (points - 1);
  const x = Array.from({ length: points }, (_, i) => low + i * step);
  const norm = INV_SQRT_2PI / (values.length * bandwidth);
  const density = x.map((at) => {
    let sum = 0;
    for (const value of values) sum += Math.exp(-0.5 * ((at - value) / bandwidth) ** 2);
    return sum * norm;
  });
  return { x, density, bandwidth };
}

/** The constant c of h = c · spread · n^(−1/5) of each rule (see `kernelDensity`). */
const BANDWIDTH_FACTORS: Record<BandwidthRule, number> = { silverman: 0.9, scott: 1.06, oversmoothed: 1.144 };

function resolveBandwidth(who: string, values: number[], rule: BandwidthRule | number): number {
  if (typeof rule === 'number') return checkNumber(who, 'options.bandwidth', rule, { min: 0, exclusiveMin: true });
  if (!BANDWIDTH_RULES.includes(rule)) {
    throw new ArgumentError(`${who}: options.bandwidth must be ${BANDWIDTH_RULES.map((r) => `'${r}'`).join(', ')} or a positive number; got '${String(rule)}'.`);
  }
  if (minimum(values) === maximum(values)) return DEGENERATE_BANDWIDTH;
  const n = values.length;
  const sigma = standardDeviation(values);
  // IQR is 0 when most values coincide (a confident model): fall back to σ rather than to a zero width.
  const spread = rule === 'silverman' ? Math.min(sigma, interQuartileRange(values) / 1.34) || sigma : sigma;
  const factor = BANDWIDTH_FACTORS[rule];
  // Values a denormal apart have a spread that underflows to 0: treat them as coinciding.
  return factor * spread * n ** -0.2 || DEGENERATE_BANDWIDTH;
}

// Loops, not Math.min(...values), which overflows the call stack for long arrays.
const minimum = (values: number[]): number => values.reduce((a, b) => Math.min(a, b));
const maximum = (values: number[]): number => values.reduce((a, b) => Math.max(a, b));

function standardDeviation(values: number[]): number {
  if (values.length < 2) return 0;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1));
}

function interQuartileRange(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return quantileOfSorted(sorted, 0.75) - quantileOfSorted(sorted, 0.25);
}

/** Linear interpolation between order statistics (Hyndman & Fan 1996, type 7; NumPy's default). */
export function quantileOfSorted(sorted: ArrayLike<number>, level: number): number {
  const position = level * (sorted.length - 1);
  const lower = Math.floor(position);
  const upper = Math.min(lower + 1, sorted.length - 1);
  return sorted[lower] + (position - lower) * (sorted[upper] - sorted[lower]);
}
