/**
 * The article's figure: for each class, the kernel density of its probability over the Monte Carlo
 * samples (probability on x, density on y). A narrow peak is a class the model is sure of; a wide
 * or two-humped curve is one it is not.
 */
import { classColour, type KernelDensity } from '../../../src';

/** Room on the right for the legend, long enough for "nv (clipped, peak 41)". */
const LEGEND_WIDTH = 175;
const MARGIN = { left: 48, right: LEGEND_WIDTH + 8, top: 12, bottom: 36 };
/** The frame is this many times the highlighted curve's peak. */
const HEADROOM = 1.25;

/**
 * Draws one curve per class; `highlight` (the explained class) is drawn thicker, on top. The y axis
 * is scaled to the highlighted curve: a class the model rules out (all samples near 0) has a spike
 * many times higher, which would flatten every other curve, so spikes are clipped at the frame.
 */
export function drawDensities(canvas: HTMLCanvasElement, densities: KernelDensity[], classNames: string[], highlight: number): void {
  const context = canvas.getContext('2d')!;
  const { width, height } = canvas;
  const plotWidth = width - MARGIN.left - MARGIN.right;
  const plotHeight = height - MARGIN.top - MARGIN.bottom;
  const highest = (curve: KernelDensity) => Math.max(...curve.density);
  const top = Math.max(Math.min(Math.max(...densities.map(highest)), HEADROOM * highest(densities[highlight])), 1e-9);
  const toX = (p: number) => MARGIN.left + p * plotWidth;
  const toY = (d: number) => MARGIN.top + plotHeight * (1 - d / top);

  context.fillStyle = '#fff';
  context.fillRect(0, 0, width, height);
  drawAxes(context, { toX, toY, top, width, height });
  context.save();
  context.beginPath();
  context.rect(MARGIN.left, MARGIN.top, plotWidth, plotHeight);
  context.clip();
  const order = densities.map((_, index) => index).filter((index) => index !== highlight).concat(highlight);
  for (const index of order) {
    const { x, density } = densities[index];
    context.strokeStyle = classColour(index);
    context.lineWidth = index === highlight ? 3 : 1.5;
    context.beginPath();
    x.forEach((p, i) => (i === 0 ? context.moveTo(toX(p), toY(density[i])) : context.lineTo(toX(p), toY(density[i]))));
    context.stroke();
  }
  context.restore();
  // A curve cut by the frame says so, with its true peak: a spike must not read as a low hill.
  drawLegend(context, classNames.map((name, index) => (highest(densities[index]) > top ? `${name} (clipped, peak ${highest(densities[index]).toPrecision(2)})` : name)), width);
}

interface Frame {
  toX: (p: number) => number;
  toY: (d: number) => number;
  top: number;
  width: number;
  height: number;
}

function drawAxes(context: CanvasRenderingContext2D, { toX, toY, top, height }: Frame): void {
  context.strokeStyle = '#333';
  context.fillStyle = '#333';
  context.lineWidth = 1;
  context.font = '11px sans-serif';
  context.beginPath();
  context.moveTo(toX(0), toY(top));
  context.lineTo(toX(0), toY(0));
  context.lineTo(toX(1), toY(0));
  context.stroke();
  context.textAlign = 'center';
  for (const p of [0, 0.25, 0.5, 0.75, 1]) context.fillText(p.toFixed(2), toX(p), toY(0) + 14);
  context.fillText('probability of the class', toX(0.5), height - 4);
  context.textAlign = 'right';
  context.fillText(top.toPrecision(2), toX(0) - 4, toY(top) + 8);
  context.fillText('0', toX(0) - 4, toY(0));
  context.save();
  context.translate(12, toY(top / 2));
  context.rotate(-Math.PI / 2);
  context.textAlign = 'center';
  context.fillText('density', 0, 0);
  context.restore();
}

function drawLegend(context: CanvasRenderingContext2D, classNames: string[], width: number): void {
  context.font = '11px sans-serif';
  context.textAlign = 'left';
  classNames.forEach((name, index) => {
    const y = MARGIN.top + 6 + index * 14;
    context.fillStyle = classColour(index);
    context.fillRect(width - LEGEND_WIDTH, y - 6, 12, 4);
    context.fillStyle = '#333';
    context.fillText(name, width - LEGEND_WIDTH + 16, y);
  });
}
