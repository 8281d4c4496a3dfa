/**
 * The demo page: pick a model and an image, then read the Monte Carlo prediction, its uncertainty
 * in plain language, the density plot and the Bayesian Grad-CAM with its uncertainty map.
 */
import * as tf from '@tensorflow/tfjs-core';
import { analyse, explain, prepareImage, PREPROCESSINGS, type Analysis, type AnalysisRequest, type Preprocessing } from './analysis';
import { BACKEND_ORDER, chooseBackend, type BrowserBackend } from './backend';
import { drawDensities } from './plot';
import { drawColourScale, drawOverlay, scaleToUnit } from './draw_maps';
import { loadFromFiles, loadFromUrl, type ModelInfo } from './model_source';
import { readUncertainty } from './reading';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const numberInput = (id: string) => Number($<HTMLInputElement>(id).value);

interface State {
  backend: string;
  model: ModelInfo | null;
  /** The picked image [H, W, 3] in 0..255, as decoded. */
  pixels: tf.Tensor3D | null;
  /** The image at the model's input size, 0..255 (what the overlays are drawn on). */
  display: tf.Tensor3D | null;
  /** The model's input [1, H, W, 3]. */
  input: tf.Tensor4D | null;
  analysis: Analysis | null;
}

const state: State = { backend: '', model: null, pixels: null, display: null, input: null, analysis: null };

function setStatus(text: string, kind: 'idle' | 'running' | 'done' | 'error'): void {
  const status = $('status');
  status.textContent = text;
  status.dataset.state = kind;
}

/** Runs `task`, showing its failure on the page instead of losing it in the console. */
async function guarded(label: string, task: () => Promise<void>): Promise<void> {
  try {
    setStatus(`${label}…`, 'running');
    await tf.nextFrame();
    await task();
  } catch (error) {
    setStatus(`${label} failed: ${error instanceof Error ? error.message : String(error)}`, 'error');
    throw error;
  }
}

function request(model: ModelInfo): AnalysisRequest {
  return {
    samples: numberInput('samples'),
    camSamples: numberInput('cam-samples'),
    seed: numberInput('seed'),
    camLayer: model.camLayer,
    classNames: model.classNames,
  };
}

/** Rebuilds the model input from the picked pixels (after a new image, model or scaling). */
function prepareInput(model: ModelInfo, pixels: tf.Tensor3D): void {
  state.display?.dispose();
  state.input?.dispose();
  const preprocessing = $<HTMLSelectElement>('preprocessing').value as Preprocessing;
  state.display = tf.tidy(() => tf.squeeze(tf.image.resizeBilinear(tf.expandDims(tf.cast(pixels, 'float32'), 0) as tf.Tensor4D, model.inputSize), [0]) as tf.Tensor3D);
  state.input = prepareImage(pixels, model.inputSize, preprocessing);
}

async function run(): Promise<void> {
  const { model, pixels } = state;
  if (!model || !pixels) return;
  await guarded('Sampling the posterior', async () => {
    prepareInput(model, pixels);
    const started = performance.now();
    state.analysis = analyse(model.model, state.input!, request(model));
    await render(performance.now() - started);
  });
}

async function render(milliseconds: number): Promise<void> {
  const { model, analysis } = state;
  if (!model || !analysis) return;
  const { summary, explainedClass } = analysis;
  const predicted = summary.mean[0].indexOf(Math.max(...summary.mean[0]));
  $('prediction').textContent = `${model.classNames[predicted]}: ${(100 * summary.mean[0][predicted]).toFixed(1)} % (mean of ${summary.samples} samples, ${summary.strategy} path)`;
  renderReading(model, analysis);
  renderTables(model, analysis);
  drawDensities($('density-plot'), summary.densities![0], model.classNames, explainedClass);
  $<HTMLSelectElement>('class-picker').value = String(explainedClass);
  await renderMaps();
  $('numbers').textContent = JSON.stringify(numbers(analysis), null, 1);
  $('results').hidden = false;
  setStatus(`Done in ${(milliseconds / 1000).toFixed(1)} s on ${state.backend}.`, 'done');
}

function renderReading(model: ModelInfo, { summary }: Analysis): void {
  const margin = $<HTMLInputElement>('margin-threshold').value;
  const reading = readUncertainty(
    { probs: summary.mean[0], mutualInformation: summary.mutualInformation[0], classNames: model.classNames },
    { ...model.thresholds, margin: margin === '' ? null : Number(margin), mutualInformation: numberInput('mi-threshold') },
  );
  $('reading').className = reading.verdict;
  $('reading-headline').textContent = reading.headline;
  $('reading-explanation').textContent =
    model.stochastic.length === 0
      ? `${reading.explanation} This model has no stochastic layer: its mutual information is zero by construction, not by certainty.`
      : reading.explanation;
}

function renderTables(model: ModelInfo, { summary }: Analysis): void {
  const maxEntropy = Math.log(model.classNames.length);
  $('uncertainty').innerHTML = [
    ['predictive entropy (total)', summary.predictiveEntropy[0]],
    ['expected entropy (aleatoric)', summary.expectedEntropy[0]],
    ['mutual information (epistemic)', summary.mutualInformation[0]],
  ]
    .map(([name, value]) => `<tr><th>${name}</th><td>${(value as number).toFixed(4)} nats</td></tr>`)
    .join('') + `<tr><th>maximum (ln ${model.classNames.length})</th><td>${maxEntropy.toFixed(4)} nats</td></tr>`;
  const [low, , high] = summary.quantiles;
  $('probabilities').innerHTML =
    '<tr><th>class</th><th>mean</th><th>std</th><th>5–95 %</th></tr>' +
    model.classNames
      .map((name, c) => `<tr><th>${name}</th><td>${summary.mean[0][c].toFixed(3)}</td><td>${summary.std[0][c].toFixed(3)}</td><td>${low.values[0][c].toFixed(3)}–${high.values[0][c].toFixed(3)}</td></tr>`)
      .join('');
}

async function renderMaps(): Promise<void> {
  const { analysis, display } = state;
  if (!analysis || !display) return;
  const alpha = numberInput('alpha');
  await drawOverlay($('overlay'), display, analysis.camMean, { alpha, colormap: 'jet' });
  drawColourScale($('overlay-scale'), 'jet', 1);
  const { scaled, max } = scaleToUnit(analysis.camStd);
  await drawOverlay($('uncertainty-map'), display, scaled, { alpha, colormap: 'viridis' });
  drawColourScale($('uncertainty-scale'), 'viridis', max);
  $('uncertainty-caption').textContent = `Grad-CAM standard deviation (yellow = ${max.toFixed(3)}, the largest)`;
  // Shown once both maps are drawn at this alpha: what a reader (and the browser test) waits for.
  $('alpha-value').textContent = alpha.toFixed(2);
}

/** What the JSON view shows and the browser test compares with the Node API. */
function numbers({ summary, explainedClass, camMean, camStd }: Analysis) {
  return { backend: state.backend, camLayer: state.model?.camLayer, explainedClass, ...summary, densities: undefined, camMean, camStd };
}

async function explainPickedClass(): Promise<void> {
  const { model, input, analysis } = state;
  if (!model || !input || !analysis) return;
  await guarded('Explaining', async () => {
    const classIdx = Number($<HTMLSelectElement>('class-picker').value);
    const started = performance.now();
    state.analysis = { ...analysis, explainedClass: classIdx, ...explain(model.model, input, classIdx, request(model)) };
    await render(performance.now() - started);
  });
}

async function useModel(load: () => Promise<ModelInfo>): Promise<void> {
  await guarded('Loading the model', async () => {
    state.model?.model.dispose();
    const model = await load();
    state.model = model;
    // The run's own preprocessing, unless the page was opened with ?preprocessing= to override it.
    if (!new URLSearchParams(location.search).has('preprocessing')) $<HTMLSelectElement>('preprocessing').value = model.preprocessing;
    $<HTMLSelectElement>('class-picker').innerHTML = model.classNames.map((name, i) => `<option value="${i}">${name}</option>`).join('');
    $<HTMLInputElement>('margin-threshold').value = model.thresholds.margin === null ? '' : model.thresholds.margin.toFixed(3);
    $<HTMLInputElement>('mi-threshold').value = model.thresholds.mutualInformation.toFixed(4);
    $('thresholds-source').textContent = model.thresholds.source;
    $('model-info').textContent =
      `${model.source}: input ${model.inputSize.join('×')}, ${model.classNames.length} classes (${model.classNames.join(', ')}), ` +
      `Grad-CAM at '${model.camLayer}', stochastic layers: ${model.stochastic.join(', ') || 'none'}.`;
    setStatus('Model loaded. Now an image.', 'idle');
  });
  await run();
}

async function useImage(file: File): Promise<void> {
  await guarded('Reading the image', async () => {
    const bitmap = await createImageBitmap(file);
    state.pixels?.dispose();
    state.pixels = tf.browser.fromPixels(bitmap);
    bitmap.close();
    setStatus(state.model ? 'Image read.' : 'Image read. Now a model.', 'idle');
  });
  await run();
}

function wireInputs(): void {
  $<HTMLInputElement>('model-files').addEventListener('change', (event) => {
    const files = Array.from((event.target as HTMLInputElement).files ?? []);
    if (files.length > 0) void useModel(() => loadFromFiles(files));
  });
  $<HTMLInputElement>('image-file').addEventListener('change', (event) => {
    const file = (event.target as HTMLInputElement).files?.[0];
    if (file) void useImage(file);
  });
  const drop = $('drop');
  drop.addEventListener('dragover', (event) => (event.preventDefault(), drop.classList.add('over')));
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (event) => {
    event.preventDefault();
    drop.classList.remove('over');
    const file = event.dataTransfer?.files[0];
    if (file) void useImage(file);
  });
  for (const id of ['samples', 'cam-samples', 'seed', 'preprocessing']) $(id).addEventListener('change', () => void run());
  // New thresholds change the verdict, not the samples: re-read, do not re-run.
  for (const id of ['mi-threshold', 'margin-threshold']) {
    $(id).addEventListener('change', () => state.model && state.analysis && renderReading(state.model, state.analysis));
  }
  $('alpha').addEventListener('input', () => void renderMaps());
  $('class-picker').addEventListener('change', () => void explainPickedClass());
}

/** `?backend=wasm` pins a backend, `?preprocessing=unit` sets the input scaling, `?model=URL` loads a served model at start. */
async function start(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const pinned = params.get('backend') as BrowserBackend | null;
  const choice = await chooseBackend('./wasm/', pinned && BACKEND_ORDER.includes(pinned) ? [pinned] : BACKEND_ORDER);
  state.backend = choice.name;
  $('backend').textContent = choice.name;
  $('backend-detail').textContent = choice.skipped.map((s) => `(${s.name} unavailable: ${s.reason})`).join(' ');
  wireInputs();
  const preprocessing = params.get('preprocessing') as Preprocessing | null;
  if (preprocessing && PREPROCESSINGS.includes(preprocessing)) $<HTMLSelectElement>('preprocessing').value = preprocessing;
  const modelUrl = params.get('model');
  if (modelUrl) await useModel(() => loadFromUrl(modelUrl));
}

void start();
