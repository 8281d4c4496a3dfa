import { CLASS_COLOURS, calibration, classColour, colormapHex, kernelDensity } from '../../src';
import { colourScaleSvg, densityPlotSvg, FEW_EXAMPLES, reliabilitySvg } from '../../src/ham10000/charts';

/** The text elements of an SVG, in order. */
const texts = (svg: string) => [...svg.matchAll(/<text [^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);

describe('charts', () => {
  it('the reliability diagram labels every bin with its number of examples and draws thin bins pale', () => {
    // 12 confident right answers, 2 wrong ones at 0.55, nothing in between.
    const probs = [...Array.from({ length: 12 }, () => [0.95, 0.05]), [0.55, 0.45], [0.55, 0.45]];
    const labels = [...Array.from({ length: 12 }, () => 0), 1, 1];
    const { bins, ece } = calibration(probs, labels, { bins: 10 });
    const svg = reliabilitySvg(bins, ece);
    const labelsDrawn = texts(svg).slice(1, 1 + bins.length); // after the title
    expect(labelsDrawn).toEqual(bins.map((bin) => String(bin.count)));
    expect(bins.filter((bin) => bin.count === 2)).toHaveLength(1);
    // One full bar (12 ≥ FEW_EXAMPLES), every other one pale, the empty ones included.
    expect(FEW_EXAMPLES).toBeGreaterThan(2);
    expect(svg.match(/fill="#cfe3f3"/g)).toHaveLength(1);
    expect(svg.match(/fill="#eef4f9"/g)).toHaveLength(bins.length - 1);
  });

  it('the density plot names a clipped curve with its true peak, and gives each class its own colour', () => {
    const spike = kernelDensity([0, 0, 0.01, 0.02], { range: [0, 1], points: 1001 });
    const hill = kernelDensity([0.4, 0.5, 0.6, 0.55], { range: [0, 1], bandwidth: 'oversmoothed' });
    const svg = densityPlotSvg([spike, hill], ['nv', 'mel']);
    const peak = Math.max(...spike.density);
    expect(peak).toBeGreaterThan(10);
    expect(texts(svg)).toContain(`nv (clipped, peak ${peak.toFixed(0)})`);
    expect(texts(svg)).toContain('mel');
    expect(svg).toContain(`stroke="${classColour(0)}"`);
    expect(svg).toContain(`stroke="${classColour(1)}"`);
    expect(new Set(CLASS_COLOURS).size).toBe(CLASS_COLOURS.length);
    expect(classColour(CLASS_COLOURS.length)).toBe(classColour(0));
  });

  it("a colour scale runs the colour map's ends from 0 to the top value, in five ticks", () => {
    const svg = colourScaleSvg('viridis', 0, 0.0372, 'standard deviation');
    expect(texts(svg)).toEqual(['standard deviation', '0', '0.0093', '0.0186', '0.0279', '0.0372']);
    expect(svg).toContain(`stop-color="${colormapHex(0, 'viridis')}"`);
    expect(svg).toContain(`offset="100%" stop-color="${colormapHex(1, 'viridis')}"`);
  });

  it("colormapHex matches matplotlib's ends and refuses an unknown map", () => {
    // viridis starts at (0.267, 0.0049, 0.3294) and ends at (0.9932, 0.9062, 0.1439); jet ends at dark red (0.5, 0, 0).
    expect(colormapHex(0, 'viridis')).toBe('#440154');
    expect(colormapHex(1, 'viridis')).toBe('#fde725');
    expect(colormapHex(1, 'jet')).toBe('#800000');
    expect(colormapHex(2, 'jet')).toBe('#800000');
    expect(() => colormapHex(0.5, 'rainbow' as 'jet')).toThrow("colormapHex: name must be one of 'jet', 'viridis', 'turbo'; got 'rainbow'.");
  });
});
