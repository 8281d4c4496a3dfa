/**
 * Fast seeded noise over typed arrays, for the variational layers' per-call draws.
 *
 * tfjs draws `randomNormal` in JavaScript with seedrandom's alea and Marsaglia's polar method, one
 * closure call and a rejection loop per value: ~50 ms for a 1024 × 512 kernel perturbation, more
 * than the matrix products of a Flipout training step. Here one xoshiro128** output (Blackman and
 * Vigna 2018) gives a normal by the ziggurat (Marsaglia and Tsang 2000, with Doornik 2005's
 * separate bits for layer, sign and magnitude) in ~98.5 % of draws, or 32 Rademacher signs. The
 * samples are exact draws of their distribution (to float32 resolution); the same seed gives the
 * same numbers on every platform and backend.
 */

/** Number of ziggurat layers; the layer index takes the low 8 bits of a draw. */
const LAYERS = 256;
/** Right edge of the base layer, R, for 256 layers of the half-normal (Marsaglia and Tsang 2000, §2). */
const TAIL_START = 3.6541528853610088;
/** Area of each layer, V, under f(x) = exp(−x²/2) (same paper: 4.92867323399e-3 for 256 layers). */
const LAYER_AREA = 4.92867323399e-3;
/** u = (2m + 1)·2⁻²⁴ for the 23 magnitude bits m of a draw (bits 9..31): uniform in (0, 1). */
const MAGNITUDE_SCALE = 1 / 16777216;
const UINT32_SCALE = 1 / 4294967296;

/**
 * Layer edges x[0..256] (x[0] = V / f(R) is the base layer's pseudo-width, x[1] = R, x[256] = 0)
 * and ratio[i] = x[i+1] / x[i], below which a draw lies inside the layer's rectangle.
 */
const { edges, ratios, magnitudeLimits, magnitudeEdges } = (() => {
  const density = (x: number) => Math.exp(-0.5 * x * x);
  const x = new Float64Array(LAYERS + 1);
  x[0] = LAYER_AREA / density(TAIL_START);
  x[1] = TAIL_START;
  for (let i = 2; i < LAYERS; i++) x[i] = Math.sqrt(-2 * Math.log(LAYER_AREA / x[i - 1] + density(x[i - 1])));
  x[LAYERS] = 0;
  const ratio = new Float64Array(LAYERS);
  for (let i = 0; i < LAYERS; i++) ratio[i] = x[i + 1] / x[i];
  // The rectangle test u < ratio as an integer test m < limit, and u·x as (2m + 1)·(x·2⁻²⁴) with
  // x·2⁻²⁴ rounded to float32: a product of two 24-bit numbers, which float32 multiplication rounds
  // once, as a double product (exact) stored to a Float32Array does. So the fast path is one float
  // multiply, the same in JavaScript and in the compiled kernels' vector code.
  const limit = new Int32Array(LAYERS);
  const scaled = new Float32Array(LAYERS);
  for (let i = 0; i < LAYERS; i++) {
    limit[i] = Math.ceil((ratio[i] / MAGNITUDE_SCALE - 1) / 2);
    scaled[i] = x[i] * MAGNITUDE_SCALE;
  }
  return { edges: x, ratios: ratio, magnitudeLimits: limit, magnitudeEdges: scaled };
})();

/**
 * xoshiro128** (Blackman and Vigna 2018): 128-bit state, period 2¹²⁸ − 1, seeded by splitmix32.
 * `stream` k starts splitmix32 4k steps on, so the streams of one seed start from distinct states.
 */
export class Xoshiro128 {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream = 0) {
    let s = (seed + Math.imul(4 * stream, 0x9e3779b9)) | 0;
    const splitmix = () => {
      s = (s + 0x9e3779b9) | 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) | 0;
    };
    this.a = splitmix();
    this.b = splitmix();
    this.c = splitmix();
    this.d = splitmix();
  }

  /** The next 32 random bits, as a signed 32-bit integer (a V8 small integer: no allocation). */
  nextBits(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9);
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in (0, 1): never 0, so its logarithm is finite. */
  nextOpenUniform(): number {
    return ((this.nextBits() >>> 0) + 0.5) * UINT32_SCALE;
  }

  /**
   * The ziggurat's normal for the draw `bits`, any further draws (beyond its rectangle) from this
   * stream: bits 0-7 pick the layer, bit 8 the sign, bits 9-31 the magnitude, so no bit serves
   * twice (Doornik 2005's fix of Marsaglia and Tsang's RNOR).
   */
  normalFrom(bits: number): number {
    for (;;) {
      const layer = bits & (LAYERS - 1);
      const sign = signOf(bits);
      const u = (2 * (bits >>> 9) + 1) * MAGNITUDE_SCALE;
      if (u < ratios[layer]) return sign * u * edges[layer];
      if (layer === 0) return sign * this.tail();
      // The wedge between the rectangle and the curve: accept under exp(−x²/2) (Doornik 2005, ZIGNOR).
      const x = u * edges[layer];
      const below = Math.exp(-0.5 * (edges[layer] * edges[layer] - x * x));
      const above = Math.exp(-0.5 * (edges[layer + 1] * edges[layer + 1] - x * x));
      if (above + this.nextOpenUniform() * (below - above) < 1) return sign * x;
      bits = this.nextBits();
    }
  }

  /** |x| beyond R, by Marsaglia's 1964 tail method (exact for the normal tail). */
  private tail(): number {
    for (;;) {
      const x = -Math.log(this.nextOpenUniform()) / TAIL_START;
      const y = -Math.log(this.nextOpenUniform());
      if (2 * y >= x * x) return TAIL_START + x;
    }
  }
}

/** Bit 8 of a draw as −1 or +1, without a branch (a 50/50 branch mispredicts half the time). */
function signOf(bits: number): number {
  return 1 - ((bits >>> 7) & 2);
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * Normal draws come in chunks of this many, each from its own streams (the first chunk's from the
 * seed, the next from seeds derived from it), so a backend may draw the chunks in parallel
 * (tfjs-trust's compiled kernels do, with the same numbers).
 */
export const NORMAL_CHUNK = 1 << 16;
/**
 * A chunk's values are NORMAL_LANES interleaved lanes (value i belongs to lane i mod 16), each with
 * a stream of its own for the rectangle draws (one per value) and another for the rare draws
 * beyond the rectangle: a lane's values never depend on another lane's, so a backend may draw the
 * 16 lanes side by side in vector registers, one draw each per step.
 */
export const NORMAL_LANES = 16;

/** The seed of chunk `chunk` of a normal draw: the seed itself for the first. */
export function chunkSeed(seed: number, chunk: number): number {
  return chunk === 0 ? seed : new Xoshiro128(seed ^ Math.imul(chunk, 0x9e3779b9)).nextBits() >>> 0;
}

/** Fills `out` with standard normal draws from `seed`'s streams, a chunk (NORMAL_CHUNK) each; returns it. */
export function fillNormal(out: Float32Array, seed: number): Float32Array {
  for (let start = 0; start < out.length; start += NORMAL_CHUNK) {
    fillNormalChunk(out.subarray(start, Math.min(start + NORMAL_CHUNK, out.length)), chunkSeed(seed, start / NORMAL_CHUNK));
  }
  return out;
}

/** One chunk, a lane at a time: lane k's rectangle draws from stream k, its others from stream 16 + k. */
function fillNormalChunk(out: Float32Array, seed: number): void {
  for (let lane = 0; lane < Math.min(NORMAL_LANES, out.length); lane++) {
    const rng = new Xoshiro128(seed, lane);
    let beyond: Xoshiro128 | undefined;
    for (let i = lane; i < out.length; i += NORMAL_LANES) {
      // The rectangle test inlined (normalFrom repeats it): the loop stays small enough for V8 to optimise.
      const bits = rng.nextBits();
      const layer = bits & (LAYERS - 1);
      const magnitude = bits >>> 9;
      out[i] =
        magnitude < magnitudeLimits[layer]
          ? signOf(bits) * (2 * magnitude + 1) * magnitudeEdges[layer]
          : (beyond ??= new Xoshiro128(seed, NORMAL_LANES + lane)).normalFrom(bits);
    }
  }
}

/** Fills `out` with Rademacher signs (±1, equally likely), 32 per draw; returns it. */
export function fillRademacher(out: Float32Array, seed: number): Float32Array {
  const rng = new Xoshiro128(seed);
  for (let i = 0; i < out.length; i += 32) {
    const bits = rng.nextBits();
    const end = Math.min(32, out.length - i);
    for (let k = 0; k < end; k++) out[i + k] = ((bits >>> k) & 1) * 2 - 1;
  }
  return out;
}

/** Fills `out` with uniforms in [0, 1) (24-bit resolution, so float32 never rounds one up to 1); returns it. */
export function fillUniform(out: Float32Array, seed: number): Float32Array {
  const rng = new Xoshiro128(seed);
  for (let i = 0; i < out.length; i++) out[i] = (rng.nextBits() >>> 8) * MAGNITUDE_SCALE;
  return out;
}
