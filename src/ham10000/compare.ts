import * as fs from 'node:fs';
import { ArgumentError, DataError } from '../errors';
import { comparePredictions, type CompareOptions, type Comparison } from '../uncertainty';
import type { Evaluation } from './evaluate';

/** What `compareEvaluationFiles` returns: the comparison and the evaluation files behind it. */
export interface EvaluationComparison extends Comparison {
  a: string[];
  b: string[];
}

/**
 * Compares model A with model B on the images both were evaluated on: `a[i]` and `b[i]` are
 * evaluation JSON files (`ham10000 evaluate`) of the same images, e.g. the Bayesian and the dense
 * head of one seed. Several pairs (one per seed) are pooled into one paired comparison, which
 * narrows the intervals without ever pairing images of different splits.
 */
export function compareEvaluationFiles(a: string[], b: string[], options: CompareOptions = {}): EvaluationComparison {
  const who = 'compareEvaluationFiles';
  if (a.length === 0 || a.length !== b.length) {
    throw new ArgumentError(`${who}: a and b must list as many evaluation files, at least one; got ${a.length} and ${b.length}. Give one file of each model per seed, in the same order.`);
  }
  const probsA: number[][] = [];
  const probsB: number[][] = [];
  const labels: number[] = [];
  a.forEach((fileA, i) => {
    const [evaluationA, evaluationB] = [readEvaluation(fileA), readEvaluation(b[i])];
    if (evaluationA.classes.join() !== evaluationB.classes.join()) {
      throw new DataError(`${who}: ${fileA} and ${b[i]} must have the same classes; got ${evaluationA.classes.join(', ')} and ${evaluationB.classes.join(', ')}.`);
    }
    const ofB = new Map(evaluationB.predictions.map((prediction) => [prediction.imageId, prediction]));
    for (const prediction of evaluationA.predictions) {
      const other = ofB.get(prediction.imageId);
      if (!other) {
        throw new DataError(`${who}: ${b[i]} must hold every image of ${fileA}; image ${prediction.imageId} is missing. Compare evaluations of the same split and dataset.`);
      }
      probsA.push(prediction.probs);
      probsB.push(other.probs);
      labels.push(prediction.label);
    }
  });
  return { ...comparePredictions(probsA, probsB, labels, options), a, b };
}

function readEvaluation(file: string): Evaluation {
  if (!fs.existsSync(file)) throw new DataError(`compareEvaluationFiles: evaluation file '${file}' does not exist. Run 'ham10000 evaluate' first, or check the path.`);
  const evaluation = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Evaluation>;
  if (!Array.isArray(evaluation.predictions) || !Array.isArray(evaluation.classes)) {
    throw new DataError(`compareEvaluationFiles: evaluation file '${file}' must hold per-image predictions; it has none (written by an older version, or not an evaluation). Run 'ham10000 evaluate' again.`);
  }
  return evaluation as Evaluation;
}
