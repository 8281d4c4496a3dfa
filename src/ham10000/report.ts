import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { checkNumber, checkOptions } from '../validation';
import { classColour, localization, type CamMethod } from '../explain';
import { encodePng, writeFileAtomic } from '../node';
import { accuracyCoverageSvg, escapeXml, reliabilitySvg } from './charts';
import { CLASS_NAMES, loadHam10000, type ClassName, type LesionRecord } from './dataset';
import { EVALUATE_OPTIONS, evaluateRun, type DecisionRule, type Evaluation, type EvaluateOptions } from './evaluate';
import { readImage, readMask } from './images';
import { DISPLAY_SIZE, explainImage, type ImageExplanation } from './predict';
import { CAM_SAMPLES, EVALUATION_SAMPLES, evaluationRecords, explanationName, loadRun, runExplanation } from './run';

/** Options of `writeReport`: those of the evaluation, plus the output file and the number of examples. */
export interface ReportOptions extends EvaluateOptions {
  /** The HTML file to write. */
  out: string;
  /** Sample images shown with density plots and overlays: one per class first. Default 7. */
  examples?: number;
  /** The CAM method of the sample images' maps. Default: the run's map (`runExplanation`: 'layercam' for resnet-small, else 'gradcam'). */
  camMethod?: CamMethod;
  /** The layer those maps explain. Default: the run's map's ('stage1_out' for resnet-small, else the run's `camLayer`). */
  camLayer?: string;
  /** Average those maps over the 8 flips and quarter turns. Default: the run's map's (true for resnet-small). */
  augSmooth?: boolean;
}

interface Example {
  record: LesionRecord;
  explanation: ImageExplanation;
  imagePng: Buffer;
  /** Share of the mean Grad-CAM map's energy on the lesion mask, and whether its peak is on it; null without a mask. */
  onLesion: { energyInside: number; pointingHit: boolean } | null;
}

/**
 * `ham10000 report`: one self-contained HTML page (inline SVG and PNG, no external files) with
 * the evaluation's metrics, confusion matrix, reliability diagram and accuracy-coverage curve,
 * and, for sample images, the density plot, the Grad-CAM overlays and how much of each map lies
 * on the lesion where a mask exists.
 */
export async function writeReport(given: ReportOptions): Promise<{ file: string; evaluation: Evaluation }> {
  const { out, examples: exampleCount, camMethod, camLayer, augSmooth, ...evaluateOptions } = checkOptions('writeReport', given, [...EVALUATE_OPTIONS, 'out', 'examples', 'camMethod', 'camLayer', 'augSmooth']);
  const options = { ...evaluateOptions, out };
  const count = checkNumber('writeReport', 'examples', exampleCount ?? 7, { min: 0, integer: true });
  const evaluation = await evaluateRun(evaluateOptions);
  const run = await loadRun(options.model);
  const examples: Example[] = [];
  try {
    const dataset = await loadHam10000(options.data);
    const pool = evaluationRecords(dataset.records, run.config, evaluation.split);
    for (const record of pickExamples(pool, count)) {
      const size = run.config.imageSize;
      const rgb = await readImage(record.imagePath, { height: size, width: size });
      const display = await readImage(record.imagePath, { height: DISPLAY_SIZE, width: DISPLAY_SIZE });
      try {
        const explanation = await explainImage(run, rgb, { samples: options.samples ?? EVALUATION_SAMPLES, camSamples: CAM_SAMPLES, seed: options.seed, tta: options.tta, display, method: camMethod, layerName: camLayer, augSmooth });
        examples.push({ record, explanation, imagePng: await encodePng(display), onLesion: await lesionShare(record, explanation.camMean, size) });
      } finally {
        tf.dispose([rgb, display]);
      }
    }
    const html = renderHtml(evaluation, run.config.warnings, examples, options, explanationName(runExplanation(run.config, { method: camMethod, layer: camLayer, augSmooth })));
    fs.mkdirSync(path.dirname(path.resolve(options.out)), { recursive: true });
    writeFileAtomic(options.out, html);
  } finally {
    examples.forEach((example) => example.explanation.dispose());
    run.dispose();
  }
  return { file: path.resolve(options.out), evaluation };
}

/** One image of each class in turn (masked images first), so rare classes are shown too. */
function pickExamples(records: readonly LesionRecord[], count: number): LesionRecord[] {
  const byClass = new Map<number, LesionRecord[]>();
  const sorted = [...records].sort((a, b) => Number(b.maskPath !== null) - Number(a.maskPath !== null));
  for (const record of sorted) byClass.set(record.label, [...(byClass.get(record.label) ?? []), record]);
  const picked: LesionRecord[] = [];
  for (let round = 0; picked.length < Math.min(count, records.length); round++) {
    for (const members of [...byClass.entries()].sort((a, b) => a[0] - b[0]).map(([, m]) => m)) {
      if (members[round] && picked.length < count) picked.push(members[round]);
    }
  }
  return picked;
}

async function lesionShare(record: LesionRecord, camMean: tf.Tensor3D, size: number): Promise<Example['onLesion']> {
  if (!record.maskPath) return null;
  const mask = await readMask(record.maskPath, { height: size, width: size });
  const masks = tf.expandDims(mask, 0) as tf.Tensor3D;
  try {
    const result = localization(camMean, masks);
    return { energyInside: result.energyInside[0], pointingHit: result.pointingHit[0] };
  } finally {
    tf.dispose([mask, masks]);
  }
}

const STYLE = `body{font-family:sans-serif;margin:2em;max-width:1100px;color:#222}table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f3f3f3}.warn{background:#fff3cd;padding:.6em;border:1px solid #e0c060}
.card{border:1px solid #ddd;padding:1em;margin:1em 0;display:flex;gap:1em;flex-wrap:wrap;align-items:flex-start}.card img{width:200px}`;

/** What each decision rule is, in one sentence for the report. */
const RULE_TEXT: Record<DecisionRule, string> = {
  argmax: 'the most probable class (the accuracy operating point)',
  'prior-shift': 'argmax of p<sub>k</sub> / (the prior the network learned for k: its training frequency, or uniform after loss weights or balanced epochs): the Bayes decision for balanced accuracy if the probabilities are calibrated; nothing fitted',
  fitted: 'class weights fitted on the validation split to maximise balanced accuracy',
};

/**
 * The decision rules on the same predicted probabilities: per-class recall under each (melanoma
 * first, the class a screening user least wants missed), their accuracy and balanced accuracy,
 * and the weights each rule multiplies the probabilities by.
 */
function decisionSection(evaluation: Evaluation): string {
  const points = evaluation.operatingPoints;
  const pct = (value: number | null) => (value === null ? '–' : `${(value * 100).toFixed(1)} %`);
  const order = evaluation.classes.map((_, k) => k).sort((a, b) => Number(evaluation.classes[b] === 'mel') - Number(evaluation.classes[a] === 'mel'));
  const head = points.map((p) => `<th>${escapeXml(p.rule)}</th>`).join('');
  const rows = [
    ...order.map((k) => `<tr><th>recall ${escapeXml(evaluation.classes[k])}</th>${points.map((p) => `<td>${pct(p.recall[k])}</td>`).join('')}</tr>`),
    `<tr><th>balanced accuracy</th>${points.map((p) => `<td><b>${pct(p.balancedAccuracy)}</b></td>`).join('')}</tr>`,
    `<tr><th>accuracy</th>${points.map((p) => `<td><b>${pct(p.accuracy)}</b></td>`).join('')}</tr>`,
  ];
  const rules = points.map((p) => {
    const floor = p.minRecall ? `, with ${escapeXml(p.minRecall.class)} recall at least ${p.minRecall.recall} there (${p.minRecall.metOnValidation ? 'met' : 'NOT met'} on validation)` : '';
    const weights = evaluation.classes.map((c, k) => `${escapeXml(c)} ${p.weights[k].toFixed(2)}`).join(', ');
    return `<li><b>${escapeXml(p.rule)}</b>: ${RULE_TEXT[p.rule]}${floor}. Weights: ${weights}.</li>`;
  });
  return `<h2>Decision rules: recall per class</h2><p>The same probabilities, decided by argmax<sub>k</sub> w<sub>k</sub> p<sub>k</sub>
(missing class k costs w<sub>k</sub>). Choose the rule on the validation split; this table is the ${escapeXml(evaluation.split)} split.</p>
<table><tr><th></th>${head}</tr>${rows.join('')}</table><ul>${rules.join('')}</ul>`;
}

function renderHtml(evaluation: Evaluation, warnings: string[], examples: Example[], options: ReportOptions, map: string): string {
  const pct = (value: number | null) => (value === null ? '–' : `${(value * 100).toFixed(1)} %`);
  const num = (value: number) => value.toFixed(3);
  const conformal = evaluation.conformal;
  const metrics: [string, string][] = [
    ['images', String(evaluation.count)],
    ['accuracy', pct(evaluation.accuracy)],
    ['balanced accuracy', pct(evaluation.balancedAccuracy)],
    ['macro AUC', num(evaluation.macroAuc)],
    ['NLL', num(evaluation.nll)],
    ['Brier score', num(evaluation.brier)],
    ['ECE', num(evaluation.ece)],
    ['ECE of a calibrated model (mean / 95 %)', `${num(evaluation.eceIfCalibrated.mean)} / ${num(evaluation.eceIfCalibrated.upper)}`],
    ['accuracy-coverage area', num(evaluation.accuracyCoverageArea)],
    [`conformal coverage (α = ${conformal?.alpha ?? '–'})`, conformal ? pct(conformal.coverage) : 'no calibration split'],
    ['conformal mean set size', conformal ? conformal.meanSetSize.toFixed(2) : '–'],
  ];
  const dataUri = (png: Buffer) => `data:image/png;base64,${png.toString('base64')}`;
  // The class's colour beside its name, as in the density plots and the browser page.
  const named = (name: string, c: number) => `<span style="color:${classColour(c)}">■</span> ${escapeXml(name)}`;
  const header = evaluation.classes.map((name, c) => `<th>${named(name, c)}</th>`).join('');
  const matrix = evaluation.confusionMatrix
    .map((row, i) => `<tr><th>${named(evaluation.classes[i], i)}</th>${row.map((n) => `<td>${n}</td>`).join('')}</tr>`)
    .join('');
  const perClass = evaluation.perClass
    .map((c, i) => `<tr><th>${named(c.class, i)}</th><td>${c.support}</td><td>${pct(c.precision)}</td><td>${pct(c.recall)}</td><td>${c.auc === null ? '–' : num(c.auc)}</td></tr>`)
    .join('');
  const cards = examples.map(({ record, explanation: e, imagePng, onLesion }) => `<div class="card">
<div><b>${escapeXml(record.imageId)}</b><br>true: ${escapeXml(record.dx)} (${escapeXml(CLASS_NAMES[record.dx as ClassName] ?? '')})<br>predicted: ${escapeXml(e.predicted)}<br>
entropy ${num(e.predictiveEntropy)} nats<br>mutual information ${num(e.mutualInformation)} nats<br>
${onLesion ? `${escapeXml(map)} on lesion: ${pct(onLesion.energyInside)} of the map, peak ${onLesion.pointingHit ? 'on' : 'off'} the lesion` : 'no mask'}</div>
<div><img src="${dataUri(imagePng)}" alt="image"><br>image</div><div><img src="${dataUri(e.camMeanPng)}" alt="${escapeXml(map)} mean"><br>${escapeXml(map)} mean</div>
<div><img src="${dataUri(e.camStdPng)}" alt="${escapeXml(map)} std"><br>${escapeXml(map)} std (uncertainty; top of the scale ${e.camStdMax.toPrecision(3)})</div><div>${e.densitySvg}</div></div>`);
  return `<!doctype html><html><head><meta charset="utf-8"><title>HAM10000 report</title><style>${STYLE}</style></head><body>
<h1>HAM10000 model report</h1><p>Run <code>${escapeXml(path.resolve(options.model))}</code>, data <code>${escapeXml(path.resolve(options.data))}</code>, split <b>${evaluation.split}</b>, ${evaluation.samples} Monte Carlo samples${evaluation.tta ? ' over the 8 flips and quarter turns of each image' : ''}. ${evaluation.problems.length} images skipped.</p>
${warnings.map((w) => `<p class="warn">${escapeXml(w)}</p>`).join('')}
<h2>Metrics</h2><table>${metrics.map(([k, v]) => `<tr><th>${escapeXml(k)}</th><td>${v}</td></tr>`).join('')}</table>
<h2>Per class</h2><table><tr><th></th><th>images</th><th>precision</th><th>recall</th><th>AUC</th></tr>${perClass}</table>
${decisionSection(evaluation)}
<h2>Confusion matrix</h2><p>rows: true class, columns: predicted class</p><table><tr><th></th>${header}</tr>${matrix}</table>
<h2>Calibration and selective prediction</h2>${reliabilitySvg(evaluation.reliability, evaluation.ece)} ${accuracyCoverageSvg(evaluation.accuracyCoverage, evaluation.accuracyCoverageArea)}
<h2>Sample images</h2>${cards.join('\n')}
</body></html>`;
}
