import { classColour, colormapHex, type ColormapName } from '../explain';
import type { CalibrationBin, KernelDensity } from '../uncertainty';

/**
 * Small, dependency-free SVG charts for the CLI's PNGs (rasterised with sharp) and the HTML
 * report (inlined): the article's density plot, the reliability diagram and the
 * accuracy-coverage curve. Each returns a complete `<svg>` document.
 */

const WIDTH = 600;
const HEIGHT = 320;
/** Room on the right for the legend: long enough for "akiec (clipped, peak 3003)". */
const MARGIN = { left: 56, right: 190, top: 28, bottom: 44 };
/** The model's line in single-series charts. */
const MODEL_COLOUR = '#0072B2';

interface Series {
  label: string;
  points: [number, number][];
  colour?: string;
  dashed?: boolean;
}

interface PlotOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  xRange: [number, number];
  yRange: [number, number];
  series: Series[];
  /** Bars drawn under the lines, each with a label above it (e.g. how many examples it holds). */
  bars?: Bar[];
}

interface Bar {
  x0: number;
  x1: number;
  height: number;
  label: string;
  /** Drawn pale: too few examples to read its height. */
  faint?: boolean;
}

/**
 * Density of each class probability over the Monte Carlo samples: probability on x, density on y,
 * one curve per class in the class's colour. A curve cut by the top of the frame is marked
 * "clipped" in the legend with its true peak, so a spike never reads as a low hill.
 */
export function densityPlotSvg(densities: KernelDensity[], classes: readonly string[], title = 'Class probability distributions'): string {
  // A class the model rules out piles its samples at 0 into a spike thousands high that would flatten
  // every other curve; the y axis is scaled to the classes with a visible share, and the spikes are clipped.
  const visible = densities.filter((d) => centreOf(d) > VISIBLE_PROBABILITY);
  const top = Math.max(1, ...(visible.length > 0 ? visible : densities).flatMap((d) => d.density)) * 1.05;
  return linePlot({
    title,
    xLabel: 'probability',
    yLabel: 'density',
    xRange: [0, 1],
    yRange: [0, top],
    series: densities.map((d, c) => {
      const peak = Math.max(...d.density);
      return {
        label: peak > top ? `${classes[c]} (clipped, peak ${formatTick(peak)})` : classes[c],
        points: d.x.map((x, i) => [x, d.density[i]] as [number, number]),
        colour: classColour(c),
      };
    }),
  });
}

/** Classes whose mean probability is above this set the density plot's scale. */
const VISIBLE_PROBABILITY = 0.05;

/** The mean of a density curve: Σ x·f(x) / Σ f(x) over its evenly spaced points. */
function centreOf(curve: KernelDensity): number {
  const mass = curve.density.reduce((sum, f) => sum + f, 0);
  return mass === 0 ? 0 : curve.x.reduce((sum, x, i) => sum + x * curve.density[i], 0) / mass;
}

/**
 * Accuracy against confidence per bin, with the diagonal of perfect calibration. Each bar is
 * labelled with its number of examples and bins with fewer than `FEW_EXAMPLES` are drawn pale: a
 * bin of two wrong images is a drop to 0 that means little, and an empty bin has no bar at all.
 */
export function reliabilitySvg(bins: readonly CalibrationBin[], ece: number): string {
  const filled = bins.filter((bin) => bin.count > 0);
  return linePlot({
    title: `Reliability diagram (ECE ${ece.toFixed(3)}; n per bin)`,
    xLabel: 'confidence',
    yLabel: 'accuracy',
    xRange: [0, 1],
    yRange: [0, 1],
    bars: bins.map((bin) => ({ x0: bin.lower, x1: bin.upper, height: bin.accuracy, label: String(bin.count), faint: bin.count < FEW_EXAMPLES })),
    series: [
      { label: 'perfect', points: [[0, 0], [1, 1]], colour: '#888888', dashed: true },
      { label: 'model', points: filled.map((bin) => [bin.confidence, bin.accuracy]), colour: MODEL_COLOUR },
    ],
  });
}

/** Bins with fewer examples than this are drawn pale in the reliability diagram. */
export const FEW_EXAMPLES = 10;

/** Accuracy on the most certain fraction of examples, as the rest are referred. */
export function accuracyCoverageSvg(curve: { coverage: number[]; accuracy: number[] }, area: number): string {
  const low = Math.min(...curve.accuracy, 1);
  return linePlot({
    title: `Accuracy-coverage (area ${area.toFixed(3)})`,
    xLabel: 'coverage (share of images kept)',
    yLabel: 'accuracy',
    xRange: [0, 1],
    yRange: [Math.max(0, Math.floor(low * 10) / 10), 1],
    series: [{ label: 'model', points: curve.coverage.map((c, i) => [c, curve.accuracy[i]]), colour: MODEL_COLOUR }],
  });
}

function linePlot(options: PlotOptions): string {
  const innerW = WIDTH - MARGIN.left - MARGIN.right;
  const innerH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (x: number) => MARGIN.left + ((x - options.xRange[0]) / (options.xRange[1] - options.xRange[0] || 1)) * innerW;
  const sy = (y: number) => MARGIN.top + innerH - ((y - options.yRange[0]) / (options.yRange[1] - options.yRange[0] || 1)) * innerH;
  const parts: string[] = [
    `<rect x="0" y="0" width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2 - MARGIN.right / 2}" y="18" text-anchor="middle" font-size="14">${escapeXml(options.title)}</text>`,
    `<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${innerW}" height="${innerH}" fill="none" stroke="#333"/>`,
  ];
  for (const { x0, x1, height, label, faint } of options.bars ?? []) {
    const [fill, stroke] = faint ? ['#eef4f9', '#c9dbe9'] : ['#cfe3f3', '#9bbfdc'];
    parts.push(`<rect x="${sx(x0).toFixed(1)}" y="${sy(height).toFixed(1)}" width="${(sx(x1) - sx(x0)).toFixed(1)}" height="${(sy(options.yRange[0]) - sy(height)).toFixed(1)}" fill="${fill}" stroke="${stroke}"/>`);
    parts.push(`<text x="${((sx(x0) + sx(x1)) / 2).toFixed(1)}" y="${(sy(height) - 3).toFixed(1)}" text-anchor="middle" font-size="9" fill="${faint ? '#999' : '#345'}">${escapeXml(label)}</text>`);
  }
  for (let t = 0; t <= 4; t++) {
    const x = options.xRange[0] + ((options.xRange[1] - options.xRange[0]) * t) / 4;
    const y = options.yRange[0] + ((options.yRange[1] - options.yRange[0]) * t) / 4;
    parts.push(`<text x="${sx(x).toFixed(1)}" y="${HEIGHT - MARGIN.bottom + 16}" text-anchor="middle" font-size="11">${formatTick(x)}</text>`);
    parts.push(`<text x="${MARGIN.left - 6}" y="${(sy(y) + 4).toFixed(1)}" text-anchor="end" font-size="11">${formatTick(y)}</text>`);
  }
  parts.push(`<text x="${MARGIN.left + innerW / 2}" y="${HEIGHT - 8}" text-anchor="middle" font-size="12">${escapeXml(options.xLabel)}</text>`);
  parts.push(`<text x="14" y="${MARGIN.top + innerH / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 14 ${MARGIN.top + innerH / 2})">${escapeXml(options.yLabel)}</text>`);
  options.series.forEach((series, index) => {
    const colour = series.colour ?? classColour(index);
    const d = series.points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(Math.min(y, options.yRange[1])).toFixed(1)}`).join('');
    parts.push(`<path d="${d}" fill="none" stroke="${colour}" stroke-width="2"${series.dashed ? ' stroke-dasharray="5,4"' : ''}/>`);
    const ly = MARGIN.top + 14 + index * 18;
    parts.push(`<line x1="${WIDTH - MARGIN.right + 10}" y1="${ly - 4}" x2="${WIDTH - MARGIN.right + 30}" y2="${ly - 4}" stroke="${colour}" stroke-width="3"/>`);
    parts.push(`<text x="${WIDTH - MARGIN.right + 36}" y="${ly}" font-size="11">${escapeXml(series.label)}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif">${parts.join('')}</svg>`;
}

/**
 * A horizontal colour bar for a map overlay: the colour map from `min` to `max` with five ticks,
 * so a standard-deviation map scaled to its own maximum still tells its values.
 */
export function colourScaleSvg(name: ColormapName, min: number, max: number, label: string): string {
  const width = 220;
  const bar = { left: 10, right: 210, top: 18, height: 10 };
  const stops = Array.from({ length: 11 }, (_, i) => `<stop offset="${i * 10}%" stop-color="${colormapHex(i / 10, name)}"/>`).join('');
  const ticks = Array.from({ length: 5 }, (_, t) => {
    const x = bar.left + ((bar.right - bar.left) * t) / 4;
    const value = min + ((max - min) * t) / 4;
    return `<line x1="${x}" y1="${bar.top + bar.height}" x2="${x}" y2="${bar.top + bar.height + 3}" stroke="#333"/><text x="${x}" y="${bar.top + bar.height + 14}" text-anchor="middle" font-size="10">${formatScaleValue(value)}</text>`;
  }).join('');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="48" viewBox="0 0 ${width} 48" font-family="sans-serif"><rect width="${width}" height="48" fill="white"/>` +
    `<defs><linearGradient id="scale-${name}">${stops}</linearGradient></defs><text x="${width / 2}" y="12" text-anchor="middle" font-size="11">${escapeXml(label)}</text>` +
    `<rect x="${bar.left}" y="${bar.top}" width="${bar.right - bar.left}" height="${bar.height}" fill="url(#scale-${name})" stroke="#333" stroke-width="0.5"/>${ticks}</svg>`;
}

/** Three significant digits, so 0.0123 and 0.5 both read well on a colour bar. */
function formatScaleValue(value: number): string {
  return value === 0 ? '0' : Number(value.toPrecision(3)).toString();
}

function formatTick(value: number): string {
  return Math.abs(value) >= 10 ? value.toFixed(0) : Number(value.toFixed(2)).toString();
}

export function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
