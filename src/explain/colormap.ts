import * as tf from '@tensorflow/tfjs-core';
import { ArgumentError } from '../errors';
import { checkOneOf, describe, isTensor } from '../validation';

/** The colour maps `colormap` and `overlay` know. */
export type ColormapName = 'jet' | 'viridis' | 'turbo';
/** Every colour map name, for validation and for CLI choices. */
export const COLORMAPS: readonly ColormapName[] = ['jet', 'viridis', 'turbo'];

type Rgb = [number, number, number];

/**
 * matplotlib's jet as its piecewise-linear segment data (x, value) per channel, exact. Its
 * breakpoints all lie on a 1/200 grid, so a 201-entry table reproduces it exactly.
 */
const JET_SEGMENTS: Record<'red' | 'green' | 'blue', Array<[number, number]>> = {
  red: [[0, 0], [0.35, 0], [0.66, 1], [0.89, 1], [1, 0.5]],
  green: [[0, 0], [0.125, 0], [0.375, 1], [0.64, 1], [0.91, 0], [1, 0]],
  blue: [[0, 0.5], [0.11, 1], [0.34, 1], [0.65, 0], [1, 0]],
};
const JET_TABLE_SIZE = 201;

/**
 * matplotlib's viridis (van der Walt & Smith 2015) and turbo (Mikhailov 2019, Google) sampled at
 * 65 evenly spaced points from their 256-entry tables: linear interpolation between them stays
 * within 0.5/255 of matplotlib's colours.
 */
const VIRIDIS: Rgb[] = [
  [0.267, 0.0049, 0.3294], [0.2726, 0.0255, 0.353], [0.277, 0.0502, 0.3755], [0.2802, 0.0732, 0.3969],
  [0.2823, 0.0946, 0.417], [0.2832, 0.1153, 0.4358], [0.2829, 0.1354, 0.453], [0.2815, 0.1553, 0.4688],
  [0.2789, 0.1749, 0.483], [0.2753, 0.1942, 0.4956], [0.2708, 0.2133, 0.5066], [0.2654, 0.2321, 0.5162],
  [0.2593, 0.2507, 0.5244], [0.2525, 0.2689, 0.5313], [0.2454, 0.2867, 0.537], [0.2379, 0.3042, 0.5417],
  [0.2302, 0.3213, 0.5455], [0.2225, 0.3381, 0.5486], [0.2148, 0.3545, 0.551], [0.2073, 0.3706, 0.553],
  [0.2, 0.3864, 0.5545], [0.1929, 0.4019, 0.5557], [0.1861, 0.4173, 0.5567], [0.1796, 0.4324, 0.5574],
  [0.1733, 0.4474, 0.5579], [0.1672, 0.4623, 0.5581], [0.1613, 0.477, 0.5581], [0.1554, 0.4918, 0.5579],
  [0.1497, 0.5064, 0.5573], [0.144, 0.5211, 0.5564], [0.1384, 0.5358, 0.5551], [0.1331, 0.5504, 0.5533],
  [0.1281, 0.5651, 0.5509], [0.1239, 0.5798, 0.5479], [0.1209, 0.5945, 0.5442], [0.1195, 0.6091, 0.5397],
  [0.1203, 0.6238, 0.5343], [0.124, 0.6383, 0.528], [0.131, 0.6529, 0.5208], [0.1414, 0.6673, 0.5126],
  [0.1554, 0.6815, 0.5032], [0.1727, 0.6956, 0.4928], [0.193, 0.7096, 0.4812], [0.216, 0.7232, 0.4685],
  [0.2415, 0.7366, 0.4545], [0.2691, 0.7497, 0.4394], [0.2986, 0.7624, 0.423], [0.3299, 0.7748, 0.4054],
  [0.3629, 0.7867, 0.3866], [0.3972, 0.7981, 0.3665], [0.433, 0.8091, 0.3453], [0.47, 0.8194, 0.3228],
  [0.5081, 0.8292, 0.2992], [0.5472, 0.8384, 0.2745], [0.5873, 0.847, 0.2489], [0.628, 0.8549, 0.2224],
  [0.6694, 0.8622, 0.1954], [0.711, 0.8689, 0.1685], [0.7529, 0.8751, 0.1427], [0.7946, 0.8808, 0.1196],
  [0.8359, 0.8861, 0.1025], [0.8766, 0.8912, 0.0953], [0.9166, 0.8961, 0.1008], [0.9554, 0.9011, 0.1182],
  [0.9932, 0.9062, 0.1439],
];
const TURBO: Rgb[] = [
  [0.19, 0.0718, 0.2322], [0.2085, 0.1178, 0.3456], [0.2249, 0.1632, 0.4502], [0.239, 0.2078, 0.5458],
  [0.2509, 0.2517, 0.6324], [0.2606, 0.2948, 0.7102], [0.268, 0.3373, 0.779], [0.2732, 0.3789, 0.8388],
  [0.2762, 0.4199, 0.8897], [0.277, 0.4601, 0.9317], [0.2755, 0.4996, 0.9648], [0.2713, 0.5385, 0.9885],
  [0.2594, 0.5777, 0.9986], [0.2399, 0.6173, 0.9953], [0.2153, 0.6567, 0.9806], [0.1879, 0.6955, 0.9566],
  [0.1602, 0.7332, 0.9252], [0.1344, 0.7693, 0.8884], [0.113, 0.8034, 0.8482], [0.0983, 0.8349, 0.8065],
  [0.0927, 0.8634, 0.7655], [0.0986, 0.8885, 0.727], [0.1179, 0.9101, 0.69], [0.1499, 0.9298, 0.6472],
  [0.1922, 0.9474, 0.5993], [0.2427, 0.9628, 0.5482], [0.2992, 0.9758, 0.4953], [0.3593, 0.9861, 0.4424],
  [0.421, 0.9935, 0.3912], [0.482, 0.9979, 0.3434], [0.54, 0.9991, 0.3005], [0.5929, 0.9969, 0.2643],
  [0.6384, 0.991, 0.2365], [0.6796, 0.981, 0.2179], [0.7205, 0.9669, 0.2073], [0.7607, 0.949, 0.2033],
  [0.7994, 0.9277, 0.2042], [0.8362, 0.9036, 0.2085], [0.8704, 0.8768, 0.2146], [0.9016, 0.8479, 0.221],
  [0.929, 0.8173, 0.2261], [0.9523, 0.7853, 0.2283], [0.9707, 0.7523, 0.2262], [0.9837, 0.7185, 0.2183],
  [0.9921, 0.681, 0.2059], [0.9962, 0.6396, 0.1904], [0.9963, 0.5952, 0.1724], [0.9926, 0.549, 0.1528],
  [0.9853, 0.5018, 0.1324], [0.9747, 0.4546, 0.1119], [0.961, 0.4084, 0.0921], [0.9445, 0.3642, 0.0737],
  [0.9253, 0.3229, 0.0577], [0.9036, 0.2855, 0.0447], [0.8797, 0.2521, 0.0349], [0.8528, 0.2206, 0.0265],
  [0.823, 0.1909, 0.0195], [0.7903, 0.1629, 0.0137], [0.7547, 0.1367, 0.0093], [0.7161, 0.1122, 0.0062],
  [0.6747, 0.0895, 0.0045], [0.6303, 0.0684, 0.004], [0.583, 0.0492, 0.0049], [0.5327, 0.0316, 0.0071],
  [0.4796, 0.0158, 0.0106],
];

/** Linear interpolation through (x, value) breakpoints sorted by x. */
function interpolate(points: Array<[number, number]>, x: number): number {
  const upper = points.findIndex(([px]) => px >= x);
  if (upper <= 0) return points[Math.max(upper, 0)][1];
  const [[x0, y0], [x1, y1]] = [points[upper - 1], points[upper]];
  return y0 + ((y1 - y0) * (x - x0)) / (x1 - x0);
}

function jetTable(): Rgb[] {
  return Array.from({ length: JET_TABLE_SIZE }, (_, i) => {
    const x = i / (JET_TABLE_SIZE - 1);
    return [interpolate(JET_SEGMENTS.red, x), interpolate(JET_SEGMENTS.green, x), interpolate(JET_SEGMENTS.blue, x)];
  });
}

const TABLES: Record<ColormapName, () => Rgb[]> = { jet: jetTable, viridis: () => VIRIDIS, turbo: () => TURBO };

/**
 * Maps values in [0, 1] (clipped) to RGB colours in [0, 1], shape [...values.shape, 3], by
 * linear interpolation in the named colour map's table.
 */
export function colormap(values: tf.Tensor, name: ColormapName = 'jet'): tf.Tensor {
  const who = 'colormap';
  if (!isTensor(values)) {
    throw new ArgumentError(`${who}: values must be a tf.Tensor of numbers in [0, 1]; got ${describe(values)}.`);
  }
  const table = TABLES[checkOneOf(who, 'name', name, COLORMAPS)]();
  return tf.tidy(() => {
    const last = table.length - 1;
    const position = tf.mul(tf.clipByValue(tf.cast(values, 'float32'), 0, 1), last);
    const lower = tf.minimum(tf.floor(position), last - 1);
    const fraction = tf.expandDims(tf.sub(position, lower), -1);
    const colours = tf.tensor2d(table);
    const below = tf.gather(colours, tf.cast(lower, 'int32'));
    const above = tf.gather(colours, tf.cast(tf.add(lower, 1), 'int32'));
    return tf.add(below, tf.mul(tf.sub(above, below), fraction));
  });
}

/**
 * One colour map colour as '#rrggbb', for what is drawn outside tensors (colour bars, legends):
 * the same table and interpolation as `colormap`, so a legend matches its overlay.
 */
export function colormapHex(value: number, name: ColormapName = 'jet'): string {
  const table = TABLES[checkOneOf('colormapHex', 'name', name, COLORMAPS)]();
  const last = table.length - 1;
  const position = Math.min(Math.max(Number.isFinite(value) ? value : 0, 0), 1) * last;
  const lower = Math.min(Math.floor(position), last - 1);
  const fraction = position - lower;
  const channel = (k: number) => table[lower][k] + (table[lower + 1][k] - table[lower][k]) * fraction;
  return `#${[0, 1, 2].map((k) => Math.round(channel(k) * 255).toString(16).padStart(2, '0')).join('')}`;
}

/**
 * One colour per class wherever classes are drawn (report, PNGs, browser page), so a class keeps
 * its colour across them: the colour-blind-safe Okabe & Ito (2008) palette, black last.
 */
export const CLASS_COLOURS: readonly string[] = ['#E69F00', '#56B4E9', '#009E73', '#D55E00', '#CC79A7', '#0072B2', '#F0E442', '#000000'];

/** The colour of class `index` (cycling past eight classes). */
export function classColour(index: number): string {
  return CLASS_COLOURS[((index % CLASS_COLOURS.length) + CLASS_COLOURS.length) % CLASS_COLOURS.length];
}
