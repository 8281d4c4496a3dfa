/**
 * Two answers to HAM10000's imbalance (nv is two thirds of the images, df about 1 %): weight the
 * loss by class, or draw class-balanced epochs. The training code picks one by an option.
 */
import { DataError } from '../errors';
import { checkNumber } from '../validation';
import { CLASSES, type LesionRecord } from './dataset';
import { Rng } from '../random';

/**
 * Inverse-frequency weights for `model.fit({classWeight})`: w_c = N / (K · n_c), with N records,
 * K classes present and n_c records of class c (King & Zeng 2001; scikit-learn's 'balanced').
 * Each class then carries the same total weight N / K and the mean weight per record is 1, so the
 * loss keeps its scale. Absent classes get no entry.
 */
export function classWeights(records: readonly LesionRecord[]): Record<number, number> {
  const counts = labelCounts('classWeights', records);
  const weights: Record<number, number> = {};
  for (const [label, count] of counts) weights[label] = records.length / (counts.size * count);
  return weights;
}

/** Options of `balancedSampler`. */
export interface BalancedSamplerOptions {
  /** Seed of every epoch's draw: the same seed and epoch give the same order. */
  seed: number;
  /** Records per epoch. Default: as many as given, so an epoch costs what an unbalanced one does. */
  epochSize?: number;
}

/**
 * A class-balanced order for each epoch: every class present gets epochSize / K places (±1), the
 * rarer classes filled by repeating their records (oversampling), the commoner by taking the next
 * records of the class in a reshuffled cycle, so over epochs every record is used equally often.
 * The result depends only on the seed and the epoch number: epoch 7 can be drawn first.
 */
export function balancedSampler(
  records: readonly LesionRecord[],
  options: BalancedSamplerOptions,
): (epoch: number) => LesionRecord[] {
  const who = 'balancedSampler';
  const byClass = [...labelCounts(who, records).keys()].map((label) => records.filter((record) => record.label === label));
  const seed = checkNumber(who, 'options.seed', options?.seed, { integer: true });
  const epochSize = checkNumber(who, 'options.epochSize', options.epochSize ?? records.length, { min: 1, integer: true });

  return (epoch: number): LesionRecord[] => {
    checkNumber(who, 'epoch', epoch, { min: 0, integer: true });
    const drawn = byClass.flatMap((members, c) => {
      // Places of class c before epoch e: floor((e·S + c) / K). By Hermite's identity these sum
      // to e·S over the K classes, so each epoch has exactly S places and each class S/K ± 1.
      const placesBefore = (e: number): number => Math.floor((e * epochSize + c) / byClass.length);
      return drawFromCycle(members, placesBefore(epoch), placesBefore(epoch + 1), new Rng(seed, who, 'class', c));
    });
    return new Rng(seed, who, 'order', epoch).shuffle(drawn);
  };
}

/**
 * Positions [from, to) of an endless stream made of reshuffles of `members`: cycle j is the
 * shuffle by `rng`'s stream j, so any stretch of the stream can be drawn without the ones before.
 */
function drawFromCycle(members: readonly LesionRecord[], from: number, to: number, rng: Rng): LesionRecord[] {
  const orders = new Map<number, number[]>();
  const out: LesionRecord[] = [];
  for (let position = from; position < to; position++) {
    const cycle = Math.floor(position / members.length);
    if (!orders.has(cycle)) orders.set(cycle, rng.fork(cycle).shuffle(members.map((_, i) => i)));
    out.push(members[orders.get(cycle)![position % members.length]]);
  }
  return out;
}

/** Records per label, for the labels present, in label order; DataError when there is nothing to count. */
function labelCounts(who: string, records: readonly LesionRecord[]): Map<number, number> {
  if (records.length === 0) throw new DataError(`${who}: records must be non-empty; got []. Load the dataset first and check its problems.`);
  const counts = new Map<number, number>();
  for (let label = 0; label < CLASSES.length; label++) {
    const count = records.filter((record) => record.label === label).length;
    if (count > 0) counts.set(label, count);
  }
  return counts;
}
