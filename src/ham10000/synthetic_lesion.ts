/**
 * Paints one dermoscopy-like image: skin with shading and noise, and one lesion whose colour,
 * outline, size, border and texture follow its class, loosely after the dermoscopic criteria
 * (pigment network for nevi, blue-grey blotches and irregular borders for melanoma, white scaly
 * surface for actinic keratosis, arborising vessels and ovoid nests for basal cell carcinoma,
 * milia-like cysts for seborrhoeic keratosis, a central white patch for dermatofibroma, red-purple
 * lacunae for vascular lesions). Each class's parameters are drawn per lesion around a typical
 * value, so classes overlap in every single feature and a classifier has to combine them.
 */
import type { ClassName } from './dataset';
import { Rng } from '../random';

type Rgb = [number, number, number];

/** What stays fixed for a lesion across its images. */
export interface Lesion {
  dx: ClassName;
  skin: Rgb;
  colour: Rgb;
  /** Radius as a share of half the shorter image side. */
  radius: number;
  /** Ratio of the long to the short axis (1 is round). */
  elongation: number;
  /** Outline r(θ) = 1 + Σ amplitude · cos(k θ + phase). */
  harmonics: { k: number; amplitude: number; phase: number }[];
  /** Width of the fuzzy rim, in lesion radii. */
  border: number;
  /** Strength of the class texture, 0..1. */
  texture: number;
  /** Dots (nests, cysts, lacunae) in lesion coordinates, radius in lesion radii. */
  spots: { u: number; v: number; r: number }[];
  /** Low-frequency waves for blotches and vessels: direction and phase. */
  waves: { a: number; b: number; phase: number }[];
  vignette: boolean;
}

interface Style {
  colour: Rgb;
  radius: [number, number];
  elongation: [number, number];
  irregularity: number;
  border: number;
  spots: [number, number];
  spotRadius: number;
}

/** Typical values per class; each lesion draws around them (colour: shade ± 20 %, then ± 5 per channel; ranges uniformly). */
const STYLES: Record<ClassName, Style> = {
  akiec: { colour: [196, 112, 108], radius: [0.35, 0.6], elongation: [1, 1.5], irregularity: 0.12, border: 0.3, spots: [0, 0], spotRadius: 0 },
  bcc: { colour: [200, 145, 145], radius: [0.3, 0.55], elongation: [1, 1.3], irregularity: 0.08, border: 0.2, spots: [3, 7], spotRadius: 0.09 },
  bkl: { colour: [172, 116, 84], radius: [0.35, 0.65], elongation: [1.1, 1.7], irregularity: 0.14, border: 0.06, spots: [4, 10], spotRadius: 0.05 },
  df: { colour: [150, 98, 70], radius: [0.2, 0.38], elongation: [1, 1.2], irregularity: 0.04, border: 0.35, spots: [0, 0], spotRadius: 0 },
  mel: { colour: [96, 60, 45], radius: [0.45, 0.8], elongation: [1, 1.5], irregularity: 0.2, border: 0.1, spots: [0, 4], spotRadius: 0.07 },
  nv: { colour: [128, 82, 54], radius: [0.3, 0.55], elongation: [1, 1.3], irregularity: 0.04, border: 0.18, spots: [0, 3], spotRadius: 0.05 },
  vasc: { colour: [168, 48, 74], radius: [0.2, 0.45], elongation: [1, 1.3], irregularity: 0.1, border: 0.05, spots: [5, 12], spotRadius: 0.12 },
};

const SKIN_TONES: Rgb[] = [
  [236, 196, 178],
  [226, 178, 156],
  [210, 156, 128],
  [186, 132, 102],
];
const WHITE: Rgb = [238, 228, 222];
const BLACK: Rgb = [42, 32, 30];
const BLUE_GREY: Rgb = [104, 112, 140];
const VESSEL_RED: Rgb = [168, 36, 52];
const HAIR: Rgb = [48, 36, 30];
const SHADE_JITTER = 0.2;
const COLOUR_JITTER = 5;
const PIXEL_NOISE = 6;

/** Draws the fixed properties of one lesion of class `dx`. */
export function sampleLesion(dx: ClassName, rng: Rng): Lesion {
  const style = STYLES[dx];
  const jitter = (rgb: Rgb, spread: number): Rgb => rgb.map((c) => c + spread * rng.normal()) as Rgb;
  // Lighter or darker, but the hue stays the class's: independent channel noise would make green moles.
  const shade = 1 + SHADE_JITTER * rng.normal();
  const harmonicCount = rng.int(2, 5);
  return {
    dx,
    skin: jitter(rng.pick(SKIN_TONES), 6),
    colour: jitter(style.colour.map((c) => c * shade) as Rgb, COLOUR_JITTER),
    radius: rng.uniform(...style.radius),
    elongation: rng.uniform(...style.elongation),
    harmonics: Array.from({ length: harmonicCount }, () => ({
      k: rng.int(1, 6),
      amplitude: style.irregularity * rng.uniform(0.3, 1),
      phase: rng.uniform(0, 2 * Math.PI),
    })),
    border: style.border * rng.uniform(0.6, 1.4),
    texture: rng.uniform(0.45, 1),
    spots: Array.from({ length: rng.int(...style.spots) }, () => {
      const rho = Math.sqrt(rng.next()) * 0.75;
      const theta = rng.uniform(0, 2 * Math.PI);
      return { u: rho * Math.cos(theta), v: rho * Math.sin(theta), r: style.spotRadius * rng.uniform(0.6, 1.4) };
    }),
    waves: Array.from({ length: 3 }, () => ({ a: rng.uniform(-5, 5), b: rng.uniform(-5, 5), phase: rng.uniform(0, 2 * Math.PI) })),
    vignette: rng.next() < 0.3,
  };
}

export interface PaintedImage {
  /** Interleaved RGB bytes, row-major. */
  rgb: Uint8Array;
  /** 0/255 bytes: the lesion's outline, as a segmentation would draw it. */
  mask: Uint8Array;
}

/**
 * Paints one view of a lesion. `rng` varies what changes between photographs of one lesion:
 * position, rotation, scale, lighting, hairs and sensor noise.
 */
export function paintLesion(lesion: Lesion, size: { width: number; height: number }, rng: Rng): PaintedImage {
  const { width, height } = size;
  const half = Math.min(width, height) / 2;
  const radius = lesion.radius * half * rng.uniform(0.92, 1.08);
  const centre = { x: width / 2 + rng.uniform(-0.12, 0.12) * width, y: height / 2 + rng.uniform(-0.12, 0.12) * height };
  const angle = rng.uniform(0, 2 * Math.PI);
  const [cos, sin] = [Math.cos(angle), Math.sin(angle)];
  const light = rng.uniform(0.94, 1.06);
  const hairs = rng.next() < 0.25 ? Array.from({ length: rng.int(1, 4) }, () => sampleHair(rng, width, height)) : [];

  const rgb = new Uint8Array(width * height * 3);
  const mask = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      // Lesion frame: rotated, stretched along u, in units of the lesion radius.
      const dx = (x - centre.x) / radius;
      const dy = (y - centre.y) / radius;
      const u = (dx * cos + dy * sin) / Math.sqrt(lesion.elongation);
      const v = (-dx * sin + dy * cos) * Math.sqrt(lesion.elongation);
      const t = Math.sqrt(u * u + v * v) / outline(lesion, Math.atan2(v, u));
      const pixel = y * width + x;
      mask[pixel] = t < 1 ? 255 : 0;

      const edge = clamp((1 - t) / lesion.border + 0.5, 0, 1);
      const skin = skinAt(lesion, x, y, width, height);
      // Texture only where the lesion shows: most pixels are skin.
      let colour = edge > 0 ? mix(skin, lesionColour(lesion, u, v, t, rng), edge) : skin;
      if (hairs.length > 0 && hairs.some((hair) => hair(x, y))) colour = mix(colour, HAIR, 0.85);
      for (let c = 0; c < 3; c++) rgb[pixel * 3 + c] = clamp(Math.round(colour[c] * light + noise(rng)), 0, 255);
    }
  }
  return { rgb, mask };
}

/** Sensor noise with standard deviation PIXEL_NOISE: triangular (sum of two uniforms), cheaper than Gaussian. */
function noise(rng: Rng): number {
  return (rng.next() + rng.next() - 1) * PIXEL_NOISE * Math.sqrt(6);
}

/** Outline radius in direction θ (1 for a circle). */
function outline(lesion: Lesion, theta: number): number {
  let r = 1;
  for (const { k, amplitude, phase } of lesion.harmonics) r += amplitude * Math.cos(k * theta + phase);
  return Math.max(r, 0.3);
}

/** Skin with a soft falloff of light towards the edges, and the dark ring of a contact dermatoscope. */
function skinAt(lesion: Lesion, x: number, y: number, width: number, height: number): Rgb {
  const [rx, ry] = [(x - width / 2) / (width / 2), (y - height / 2) / (height / 2)];
  const r = Math.sqrt(rx * rx + ry * ry);
  const falloff = 1 - 0.12 * r * r;
  const skin: Rgb = [lesion.skin[0] * falloff, lesion.skin[1] * falloff, lesion.skin[2] * falloff];
  return lesion.vignette && r > 1.15 ? mix(skin, BLACK, clamp((r - 1.15) * 5, 0, 1)) : skin;
}

/** The class texture at lesion coordinates (u, v), t = distance / outline. */
function lesionColour(lesion: Lesion, u: number, v: number, t: number, rng: Rng): Rgb {
  const base = lesion.colour;
  const s = lesion.texture;
  const wave = (i: number): number => Math.sin(lesion.waves[i].a * u + lesion.waves[i].b * v + lesion.waves[i].phase);
  const inSpot = lesion.spots.some((spot) => (u - spot.u) ** 2 + (v - spot.v) ** 2 < spot.r * spot.r);
  switch (lesion.dx) {
    case 'nv': {
      // Regular pigment network: a darker mesh over the lesion, fading at the rim.
      const line = Math.min(Math.abs(Math.sin(7 * u)), Math.abs(Math.sin(7 * v)));
      return mix(base, BLACK, (line < 0.25 ? 0.35 * s : 0) * (1 - t * t) + (inSpot ? 0.3 * s : 0));
    }
    case 'mel': {
      // Multicomponent: black and blue-grey blotches, occasional white regression.
      const field = (wave(0) + wave(1) + wave(2)) / 3;
      if (field > 0.3) return mix(base, BLACK, s * 0.8);
      if (field < -0.35) return mix(base, BLUE_GREY, s * 0.7);
      return inSpot ? mix(base, WHITE, 0.5 * s) : base;
    }
    case 'bkl':
      // Waxy surface with milia-like cysts and fissures.
      if (inSpot) return mix(base, [236, 222, 176], 0.75 * s);
      return Math.abs(wave(0)) < 0.08 ? mix(base, BLACK, 0.3 * s) : base;
    case 'df':
      // Central white scar-like patch inside a delicate brown ring.
      return mix(base, WHITE, clamp((0.5 - t) * 3, 0, 1) * s);
    case 'akiec':
      // Strawberry pattern: red background with white scale.
      return rng.next() < 0.18 * s ? mix(base, WHITE, 0.7) : base;
    case 'bcc': {
      // Arborising vessels and blue-grey ovoid nests on a pearly background.
      if (inSpot) return mix(base, BLUE_GREY, 0.8 * s);
      const vessel = Math.abs(v - 0.3 * Math.sin(4 * u + lesion.waves[0].phase)) < 0.04 || Math.abs(u - 0.35 * wave(1)) < 0.03;
      return vessel ? mix(base, VESSEL_RED, 0.8 * s) : base;
    }
    case 'vasc':
      // Red-purple lacunae, darker than the lesion around them.
      return inSpot ? mix(base, [100, 18, 48], 0.7 * s) : base;
  }
}

/** A hair: a thin, slightly curved dark line across the image. */
function sampleHair(rng: Rng, width: number, height: number): (x: number, y: number) => boolean {
  const x0 = rng.uniform(0, width);
  const y0 = rng.uniform(0, height);
  const angle = rng.uniform(0, Math.PI);
  const bend = rng.uniform(-0.0005, 0.0005);
  const [cos, sin] = [Math.cos(angle), Math.sin(angle)];
  return (x, y) => {
    const along = (x - x0) * cos + (y - y0) * sin;
    const across = -(x - x0) * sin + (y - y0) * cos;
    return Math.abs(across - bend * along * along) < 0.7;
  };
}

function mix(a: Rgb, b: Rgb, weight: number): Rgb {
  return [a[0] + (b[0] - a[0]) * weight, a[1] + (b[1] - a[1]) * weight, a[2] + (b[2] - a[2]) * weight];
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}
