/**
 * The browser demo end to end in headless Chromium: a tiny Bayesian CNN saved here (Node) is loaded
 * in the page through its file picker with an image; the page's numbers must equal what the Node
 * API computes for the same model, image and seed, and its plot and overlays must be drawn.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import type { Page } from 'playwright-core';
import { bayesianCam, DenseFlipout, mcPredict, overlay, referralVerdict, type McSummary } from '../../src';
import { saveModel, writePng } from '../../src/node';
import { vggPreprocess } from '../../src/ham10000/preprocess';
import { buildDemo } from '../../examples/browser/build';
import { serveStatic, type StaticServer } from '../../examples/browser/serve';
import { chromiumMissing, launchChromium } from './chromium';
import { maxAbsDiff } from '../helpers';

const SCREENSHOTS = path.join(__dirname, 'screenshots');
const CLASSES = ['akiec', 'mel', 'nv'];
const INPUT: [number, number] = [24, 24];
const CAM_LAYER = 'conv2';
/** The page's defaults (index.html): the test reads them back from the page rather than trusting this copy. */
const TOLERANCE = 1e-4;
/** RUN/referral.json as `ham10000 evaluate` writes it: a margin no prediction of the tiny model reaches. */
const REFERRAL = { margin: 0.99, mutualInformation: 5, targetAccuracy: 0.9, fitted: { images: 40, keptShare: 0.25, keptAccuracy: 0.9 }, fittedOn: 'validation', samples: 30 };

const missing = chromiumMissing();
if (missing) console.warn(`test/browser skipped: ${missing}.`);
const describeBrowser = missing ? describe.skip : describe;

/** A small CNN with a DenseFlipout head wide enough (rho = −0.5) for a visible mutual information. */
function tinyBayesianCnn(): tfl.Sequential {
  const model = tfl.sequential({
    layers: [
      tfl.layers.rescaling({ scale: 1 / 16, inputShape: [...INPUT, 3] }),
      tfl.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu', name: 'conv1', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }),
      tfl.layers.conv2d({ filters: 6, kernelSize: 3, activation: 'relu', name: CAM_LAYER, kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
      tfl.layers.globalAveragePooling2d({}),
      new DenseFlipout({ units: CLASSES.length, activation: 'softmax', seed: 3, name: 'head' }),
    ],
  });
  const head = model.getLayer('head');
  const [loc, , bias] = head.getWeights();
  head.setWeights([tf.mul(loc, 20), tf.fill(loc.shape, -0.5), bias]);
  return model;
}

/** A 40×32 image (another size than the input, so the page resizes): a gradient with a dark blob. */
function testImage(): tf.Tensor3D {
  return tf.tidy(() => {
    const [height, width] = [32, 40];
    const y = tf.reshape(tf.linspace(0, 1, height), [height, 1, 1]);
    const x = tf.reshape(tf.linspace(0, 1, width), [1, width, 1]);
    const blob = tf.exp(tf.neg(tf.mul(tf.add(tf.square(tf.sub(x, 0.3)), tf.square(tf.sub(y, 0.6))), 30)));
    const plane = tf.zeros([height, width, 1]);
    const channels = tf.concat([tf.add(plane, tf.add(tf.mul(x, 200), 40)), tf.add(plane, tf.add(tf.mul(y, 150), 60)), tf.add(plane, 120)], 2);
    return tf.round(tf.sub(channels, tf.mul(blob, 90))) as tf.Tensor3D;
  });
}

interface PageNumbers extends Omit<McSummary, 'densities'> {
  backend: string;
  explainedClass: number;
  camMean: number[][];
  camStd: number[][];
}

async function pageNumbers(page: Page): Promise<PageNumbers> {
  return JSON.parse((await page.textContent('#numbers')) ?? 'null') as PageNumbers;
}

/** RGB bytes of a canvas, read back in the page (as base64: a long number array crosses the protocol slowly). */
async function canvasRgb(page: Page, id: string): Promise<{ width: number; height: number; rgb: number[] }> {
  const { width, height, base64 } = await page.evaluate((canvasId) => {
    const canvas = document.getElementById(canvasId) as HTMLCanvasElement;
    const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
    let binary = '';
    for (let i = 0; i < data.length; i++) if (i % 4 !== 3) binary += String.fromCharCode(data[i]);
    return { width: canvas.width, height: canvas.height, base64: btoa(binary) };
  }, id);
  return { width, height, rgb: Array.from(Buffer.from(base64, 'base64')) };
}

/** Moves a range input as a drag would: a new value, then an 'input' event. */
async function setSlider(page: Page, selector: string, value: number): Promise<void> {
  await page.$eval(selector, (slider, v) => {
    (slider as HTMLInputElement).value = String(v);
    slider.dispatchEvent(new Event('input', { bubbles: true }));
  }, value);
}

/** What a user does: pick the run's model files, then the image. */
async function pickModelAndImage(page: Page, work: string): Promise<void> {
  const run = path.join(work, 'run');
  const files = ['model/model.json', 'model/weights.bin', 'run.json', 'referral.json'].map((file) => path.join(run, file));
  await page.setInputFiles('#model-files', files);
  await page.waitForSelector('#status:has-text("Model loaded")');
  await page.setInputFiles('#image-file', path.join(work, 'lesion.png'));
  await waitUntilDone(page);
}

async function waitUntilDone(page: Page): Promise<void> {
  await page.waitForSelector('#status[data-state="done"], #status[data-state="error"]', { timeout: 45_000 });
  const status = await page.textContent('#status');
  if ((await page.getAttribute('#status', 'data-state')) === 'error') throw new Error(`The page failed: ${status}`);
}

describeBrowser('browser demo in headless Chromium', () => {
  let work: string;
  let server: StaticServer;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let page: Page;
  const pageErrors: string[] = [];
  let model: tfl.Sequential;
  let pixels: tf.Tensor3D;
  let input: tf.Tensor4D;
  let display: tf.Tensor3D;

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-trust-browser-'));
    model = tinyBayesianCnn();
    await saveModel(model, path.join(work, 'run', 'model'));
    fs.writeFileSync(path.join(work, 'run', 'run.json'), JSON.stringify({ classes: CLASSES, camLayer: CAM_LAYER }));
    fs.writeFileSync(path.join(work, 'run', 'referral.json'), JSON.stringify(REFERRAL));
    pixels = testImage();
    await writePng(path.join(work, 'lesion.png'), pixels);
    display = tf.tidy(() => tf.squeeze(tf.image.resizeBilinear(tf.expandDims(pixels, 0) as tf.Tensor4D, INPUT), [0]) as tf.Tensor3D);
    input = vggPreprocess(tf.expandDims(display, 0) as tf.Tensor4D);

    await buildDemo(path.join(work, 'site'), { minify: false });
    server = await serveStatic(path.join(work, 'site'), { run: path.join(work, 'run') });
    browser = await launchChromium();
    page = await browser.context.newPage();
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${server.url}/`);
    await page.waitForFunction(() => document.getElementById('backend')?.textContent !== 'starting…');
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    tf.dispose([pixels, input, display]);
    model?.dispose();
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  it('says which backend it runs on, falling back from WebGL', async () => {
    const backend = await page.textContent('#backend');
    expect(['webgl', 'wasm', 'cpu']).toContain(backend);
    if (backend !== 'webgl') expect(await page.textContent('#backend-detail')).toMatch(/webgl unavailable: /);
    console.log(`browser demo backend: ${backend} ${await page.textContent('#backend-detail')}`);
  });

  it('loads a picked model and image and computes what the Node API computes', async () => {
    await pickModelAndImage(page, work);
    expect(await page.textContent('#model-info')).toMatch(/input 24×24, 3 classes \(akiec, mel, nv\), Grad-CAM at 'conv2', stochastic layers: head/);

    const numbers = await pageNumbers(page);
    const samples = Number(await page.inputValue('#samples'));
    const camSamples = Number(await page.inputValue('#cam-samples'));
    const seed = Number(await page.inputValue('#seed'));
    const prediction = mcPredict(model, input, { samples, seed });
    const node = prediction.summary({ density: false });
    prediction.dispose();
    expect(numbers.samples).toBe(samples);
    expect(numbers.strategy).toBe(node.strategy);
    expect(maxAbsDiff(numbers.mean[0], node.mean[0])).toBeLessThan(TOLERANCE);
    expect(maxAbsDiff(numbers.std[0], node.std[0])).toBeLessThan(TOLERANCE);
    expect(Math.abs(numbers.predictiveEntropy[0] - node.predictiveEntropy[0])).toBeLessThan(TOLERANCE);
    expect(Math.abs(numbers.mutualInformation[0] - node.mutualInformation[0])).toBeLessThan(TOLERANCE);
    expect(node.mutualInformation[0]).toBeGreaterThan(1e-3); // the head is wide: a test of a zero would prove little
    const predicted = node.mean[0].indexOf(Math.max(...node.mean[0]));
    expect(numbers.explainedClass).toBe(predicted);
    expect(await page.textContent('#prediction')).toContain(`${CLASSES[predicted]}: ${(100 * node.mean[0][predicted]).toFixed(1)} %`);

    const maps = bayesianCam(model, CAM_LAYER, predicted, input, { samples: camSamples, seed, raw: true });
    expect(maxAbsDiff(numbers.camMean.flat(), Array.from(maps.mean.dataSync()))).toBeLessThan(TOLERANCE);
    expect(maxAbsDiff(numbers.camStd.flat(), Array.from(maps.std.dataSync()))).toBeLessThan(TOLERANCE);
    maps.dispose();
    expect(pageErrors).toEqual([]);
  });

  it("reads the verdict with the run's fitted thresholds, says where they came from, and follows edits", async () => {
    expect(await page.textContent('#thresholds-source')).toBe(
      "Thresholds fitted by ham10000 evaluate on the run's validation split (40 images, 30 Monte Carlo samples): they called 25 % of its images confident, 90 % of them right (target 90 %).",
    );
    expect(await page.inputValue('#margin-threshold')).toBe('0.990');
    const { mean, mutualInformation } = await pageNumbers(page);
    const verdict = referralVerdict(mean[0], mutualInformation[0], REFERRAL);
    expect(verdict).toMatchObject({ confident: false, reason: 'margin' });
    expect(await page.textContent('#reading-headline')).toMatch(/^uncertain: refer \((akiec|mel|nv) \d+ % against (akiec|mel|nv) \d+ %\)$/);

    // A margin the prediction clears: confident, naming the lead.
    await page.fill('#margin-threshold', (verdict.margin - 0.01).toFixed(3));
    await page.dispatchEvent('#margin-threshold', 'change');
    await page.waitForSelector('#reading.confident');
    expect(await page.textContent('#reading-headline')).toMatch(/^confident: (akiec|mel|nv) \(/);
    // A mutual information threshold below the image's: referred as unlike what the model learnt.
    await page.fill('#mi-threshold', String(mutualInformation[0] / 2));
    await page.dispatchEvent('#mi-threshold', 'change');
    await page.waitForSelector('#reading-headline:has-text("unlike what the model learnt")');
    // Neither edit re-ran the sampling: the numbers are those of the first run.
    expect((await pageNumbers(page)).mean).toEqual(mean);
    await page.fill('#margin-threshold', '0.990');
    await page.fill('#mi-threshold', '5');
    await page.dispatchEvent('#mi-threshold', 'change');
    expect(pageErrors).toEqual([]);
  });

  it('draws the density plot and the overlays, and follows the alpha slider', async () => {
    const plot = await canvasRgb(page, 'density-plot');
    const colours = new Set<string>();
    for (let i = 0; i < plot.rgb.length; i += 3) colours.add(plot.rgb.slice(i, i + 3).join(','));
    expect(colours.size).toBeGreaterThan(CLASSES.length + 2); // white, the axes' grey and one colour per curve at least

    const { camMean } = await pageNumbers(page);
    const expected = overlay(display, tf.tensor2d(camMean), { alpha: 0.5, colormap: 'jet' });
    const drawn = await canvasRgb(page, 'overlay');
    expect([drawn.height, drawn.width]).toEqual(INPUT);
    expect(maxAbsDiff(drawn.rgb, Array.from(expected.dataSync()))).toBeLessThanOrEqual(1);
    expected.dispose();
    expect(new Set((await canvasRgb(page, 'uncertainty-map')).rgb).size).toBeGreaterThan(10);

    await setSlider(page, '#alpha', 0);
    await page.waitForSelector('#alpha-value:has-text("0.00")');
    const imageOnly = await canvasRgb(page, 'overlay');
    const rounded = tf.round(display);
    expect(maxAbsDiff(imageOnly.rgb, Array.from(rounded.dataSync()))).toBeLessThanOrEqual(1);
    rounded.dispose();
    await setSlider(page, '#alpha', 0.5);
    await page.waitForSelector('#alpha-value:has-text("0.50")');
  });

  it('explains the class picked in the class picker', async () => {
    const before = await pageNumbers(page);
    const other = (before.explainedClass + 1) % CLASSES.length;
    await page.selectOption('#class-picker', String(other));
    await page.waitForFunction((cls) => JSON.parse(document.getElementById('numbers')!.textContent!).explainedClass === cls, other);
    await waitUntilDone(page);
    const after = await pageNumbers(page);
    const seed = Number(await page.inputValue('#seed'));
    const camSamples = Number(await page.inputValue('#cam-samples'));
    const maps = bayesianCam(model, CAM_LAYER, other, input, { samples: camSamples, seed, raw: true });
    expect(maxAbsDiff(after.camMean.flat(), Array.from(maps.mean.dataSync()))).toBeLessThan(TOLERANCE);
    expect(maxAbsDiff(after.camMean.flat(), before.camMean.flat())).toBeGreaterThan(1e-3);
    maps.dispose();

    fs.mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: path.join(SCREENSHOTS, 'demo.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  });

  it('runs on WASM with the binaries served next to the page, with a served run folder preloaded', async () => {
    const wasmPage = await browser.context.newPage();
    const requested: string[] = [];
    wasmPage.on('request', (request) => requested.push(request.url()));
    wasmPage.on('pageerror', (error) => pageErrors.push(error.message));
    await wasmPage.goto(`${server.url}/?backend=wasm&model=/run/model/model.json`);
    await wasmPage.waitForSelector('#status:has-text("Model loaded")');
    expect(await wasmPage.textContent('#backend')).toBe('wasm');
    expect(await wasmPage.textContent('#model-info')).toMatch(/3 classes \(akiec, mel, nv\), Grad-CAM at 'conv2'/);
    await wasmPage.setInputFiles('#image-file', path.join(work, 'lesion.png'));
    await waitUntilDone(wasmPage);
    expect(requested.filter((url) => url.endsWith('.wasm')).every((url) => url.startsWith(`${server.url}/wasm/`))).toBe(true);
    expect(requested.some((url) => url.endsWith('.wasm'))).toBe(true);
    const onWasm = await pageNumbers(wasmPage);
    expect(onWasm.backend).toBe('wasm');
    const seed = Number(await wasmPage.inputValue('#seed'));
    const prediction = mcPredict(model, input, { samples: Number(await wasmPage.inputValue('#samples')), seed });
    expect(maxAbsDiff(onWasm.mean[0], prediction.mean.arraySync()[0])).toBeLessThan(TOLERANCE);
    prediction.dispose();
    const maps = bayesianCam(model, CAM_LAYER, onWasm.explainedClass, input, { samples: Number(await wasmPage.inputValue('#cam-samples')), seed, raw: true });
    expect(maxAbsDiff(onWasm.camStd.flat(), Array.from(maps.std.dataSync()))).toBeLessThan(TOLERANCE);
    maps.dispose();
    await wasmPage.close();
    expect(pageErrors).toEqual([]);
  });
});
