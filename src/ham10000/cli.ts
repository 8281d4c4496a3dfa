#!/usr/bin/env node
/** The `ham10000` command line: train, evaluate, compare, localize, predict, report. Progress and messages go to stderr, results to stdout. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError, Help, InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { DEFAULT_SAMPLES } from '../conventions';
import { CAM_METHODS } from '../explain';
import { BACKEND_ENV, BACKENDS, selectBackend, writeFileAtomic, type BackendName } from '../node';
import { TrustError } from '../errors';
import { LAPLACE_STRUCTURES } from '../layers';
import { DEFAULT_LAPLACE_STRUCTURE } from '../uncertainty';
import { compareEvaluationFiles } from './compare';
import { DEFAULT_MIN_RECALL, evaluateRun, type MinRecall } from './evaluate';
import { ARCHITECTURES, DEFAULT_TRAINABLE_LAYERS, HEADS, POOLINGS } from './model';
import { localizeRun } from './localize';
import { POSTHOC_METHODS } from './posthoc';
import { predictImage } from './predict';
import { writeReport } from './report';
import { ARCH_DEFAULTS, ARCH_EXPLANATIONS, BALANCES, CAM_SAMPLES, EVALUATION_SAMPLES, EVALUATION_SPLITS, localizationFile, LR_SCHEDULES, RUN_DEFAULTS, RUN_MODELS, runPaths, type RecipeSetting } from './run';
import { train, type TrainEvent } from './train';
import { version } from '../../package.json';

/** Where the CLI writes, replaceable so tests can run `main` and read what it printed. */
export interface CliIo {
  /** Results (stdout). */
  out: (text: string) => void;
  /** Progress, messages and errors (stderr). */
  err: (text: string) => void;
  /** Draw progress bars (a terminal). Default: whether stderr is a TTY. */
  bars?: boolean;
}

const defaultIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  bars: process.stderr.isTTY === true,
};

function integer(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`must be an integer >= ${min}.`);
    return n;
  };
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a number > 0.');
  return n;
}

/** `--min-recall mel=0.75` → { class: 'mel', recall: 0.75 }; `none` → null. */
function minRecallOption(value: string): MinRecall | null {
  if (value === 'none') return null;
  const match = /^([A-Za-z_]+)=([0-9.]+)$/.exec(value);
  const recall = match ? Number(match[2]) : NaN;
  if (!match || !(recall >= 0 && recall <= 1)) throw new InvalidArgumentError("must be CLASS=RECALL with RECALL in [0, 1] (e.g. mel=0.75), or 'none'.");
  return { class: match[1], recall };
}

/** --weights: the word 'imagenet', or a path that exists. */
function weightsSource(value: string): string {
  return value === 'imagenet' ? value : existingPath('weights')(value);
}

function existingPath(what: string) {
  return (value: string): string => {
    if (!fs.existsSync(value)) throw new InvalidArgumentError(`${what} '${value}' does not exist: check the path.`);
    return value;
  };
}

/** Runs the CLI on `argv` (without `node` and the script) and returns the exit code; never calls process.exit. */
export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    const verbose = argv.includes('--verbose');
    const message = error instanceof Error ? error.message : String(error);
    const kind = error instanceof TrustError ? '' : ' (unexpected; rerun with --verbose and report it)';
    io.err(`ham10000: error: ${message.split('\n')[0]}${kind}\n`);
    if (verbose && error instanceof Error && error.stack) io.err(`${error.stack}\n`);
    return 1;
  }
}

/**
 * A default in the help: the general one, then each network's own where it differs, e.g.
 * "224; compact 48; resnet-small 64": read from the tables the library decides by, so they cannot drift.
 */
function byNetwork<K extends string>(general: unknown, table: Readonly<Partial<Record<string, Readonly<Partial<Record<K, unknown>>>>>>, key: K): string {
  const show = (value: unknown) => (typeof value === 'boolean' ? (value ? 'on' : 'off') : String(value));
  const own = Object.entries(table)
    .filter(([, values]) => values !== undefined && values[key] !== general)
    .map(([arch, values]) => `${arch} ${show(values![key])}`);
  return [show(general), ...own].join('; ');
}

/** A training setting's default (RUN_DEFAULTS, then the from-scratch networks' recipes, ARCH_DEFAULTS). */
const byArch = (setting: RecipeSetting) => byNetwork(RUN_DEFAULTS[setting], ARCH_DEFAULTS, setting);

/** What the map options default to: the run's map (`runExplanation`), Grad-CAM at the last convolution unless its network has its own. */
const RUN_MAP_DEFAULT = {
  method: byNetwork('gradcam', ARCH_EXPLANATIONS, 'method'),
  layer: byNetwork('the last convolution', ARCH_EXPLANATIONS, 'layer'),
  augSmooth: byNetwork(false, ARCH_EXPLANATIONS, 'augSmooth'),
};

/** An option whose default the library decides: --help shows it as `(default: shown)`. */
function libraryDefault(flags: string, description: string, shown: string): Option {
  return new Option(flags, description).default(undefined, shown);
}

/** Commander's help, plus the defaults the library decides and a `(required)` mark. */
function optionDescription(option: Option): string {
  let text = Help.prototype.optionDescription.call(new Help(), option);
  if (option.defaultValue === undefined && option.defaultValueDescription) {
    // Joins Commander's own "(choices: ...)" when there is one.
    const shown = `default: ${option.defaultValueDescription}`;
    text = option.argChoices ? `${text.slice(0, -1)}, ${shown})` : `${text} (${shown})`;
  }
  return `${text}${option.mandatory ? ' (required)' : ''}`;
}

function buildProgram(io: CliIo): Command {
  const program = new Command('ham10000')
    .description('HAM10000 dermoscopy classifier with Bayesian uncertainty and Grad-CAM (tfjs-trust)')
    .version(version, '-V, --version', 'print the tfjs-trust version')
    .configureHelp({ optionDescription })
    .exitOverride()
    .configureOutput({
      writeOut: io.out,
      writeErr: io.err,
      // Commander's usage errors say what is wrong but not always how to fix it: one line with both.
      outputError: (text, write) => write(`${text.trimEnd()} Run 'ham10000 <command> --help' for the options.\n`),
    });
  const common = (command: Command) =>
    command
      .addOption(libraryDefault('--backend <name>', 'tfjs backend', `the fastest present, or $${BACKEND_ENV}`).choices(BACKENDS))
      .addOption(libraryDefault('--seed <n>', 'random seed', `${RUN_DEFAULTS.seed} for train, 0 otherwise`).argParser(integer(-2147483648)))
      .option('--verbose', 'stack traces on errors, and where the backend was found');
  // The commands that read a trained run and a dataset, on the run's test split or on every image.
  const runOnData = (command: Command, data: string) =>
    common(command)
      .requiredOption('--model <run>', 'run folder of a trained model', existingPath('run folder'))
      .requiredOption('--data <dir>', data, existingPath('data folder'))
      .addOption(new Option('--split <which>', "the run's test split, its validation split (to choose settings), or every image of --data").choices(EVALUATION_SPLITS).default('test'));
  const tta = 'test-time augmentation: samples go round the 8 flips and quarter turns of each image';
  // selectBackend also registers the selected backend's training kernels: the pipeline's one global change.
  const useBackend = async (name: BackendName | undefined, verbose: boolean | undefined) => {
    const selected = await selectBackend({ backend: name });
    io.err(`${verbose ? selected.details : selected.message}\n`);
  };

  common(program.command('train').description('train a model (checkpoints each epoch; --resume continues)'))
    .requiredOption('--data <dir>', 'dataset folder in the HAM10000 layout', existingPath('data folder'))
    .requiredOption('--out <run>', 'run folder to write (model, checkpoints, cache)')
    .addOption(libraryDefault('--epochs <n>', 'epochs (with --resume: total to reach)', `${byArch('epochs')}, or the run's with --resume`).argParser(integer(1)))
    .addOption(libraryDefault('--image-size <px>', 'square input size', byArch('imageSize')).argParser(integer(8)))
    .addOption(new Option('--arch <name>', 'network').choices(ARCHITECTURES).default(RUN_DEFAULTS.arch))
    .addOption(libraryDefault('--weights <imagenet|path>', "pretrained base: 'imagenet' (Keras' file, downloaded once), a Keras .h5/.keras file or a tfjs model folder", 'random initial weights').argParser(weightsSource))
    .addOption(libraryDefault('--alpha <width>', 'mobilenetv2 width multiplier (ImageNet weights: 0.35, 0.5, 0.75, 1, 1.3, 1.4)', '1').argParser(positiveNumber))
    .addOption(libraryDefault('--trainable-layers <n>', 'base layers trained at its end', `vgg16 ${DEFAULT_TRAINABLE_LAYERS}, resnet50 and mobilenetv2 0, compact all`).argParser(integer(0)))
    .addOption(libraryDefault('--pooling <kind>', 'head pooling', 'flatten for vgg16, avg for the others').choices(POOLINGS))
    .addOption(libraryDefault('--dense <units>', 'units of an optional dense layer in the head', 'none').argParser(integer(0)))
    .addOption(new Option('--head <kind>', "output layer: Bayesian DenseFlipout, or plain dense for comparison").choices(HEADS).default(RUN_DEFAULTS.head))
    .option('--bayesian-hidden', 'make the --dense layer a DenseFlipout too (with --head flipout)')
    .option('--val-samples <n>', 'Monte Carlo samples per validation image for the validation loss (0: the posterior-mean network)', integer(0), RUN_DEFAULTS.validationSamples)
    .option('--batch-size <n>', 'batch size', integer(1), RUN_DEFAULTS.batchSize)
    .addOption(libraryDefault('--learning-rate <lr>', 'Adam step size', byArch('learningRate')).argParser(positiveNumber))
    .addOption(libraryDefault('--lr-schedule <kind>', 'step size over the epochs: constant, or cosine decay to 0', byArch('lrSchedule')).choices(LR_SCHEDULES))
    .addOption(libraryDefault('--balance <how>', 'class imbalance', byArch('balance')).choices(BALANCES))
    .addOption(libraryDefault('--augment', 'random flips and quarter turns (only when nothing is frozen)', byArch('augment')))
    .option('--no-augment', 'no flips and turns')
    .option('--patience <epochs>', 'early stopping on validation loss (0: off)', integer(0), RUN_DEFAULTS.patience)
    .addOption(libraryDefault('--limit <n>', 'at most n images per split (quick trials)', 'all').argParser(integer(1)))
    .addOption(new Option('--cache <where>', 'frozen features').choices(['memory', 'disk', 'auto']).default('auto'))
    .option('--resume', 'continue the run in --out from its last checkpoint')
    .action(async (o) => {
      await useBackend(o.backend, o.verbose);
      const progress = new TrainProgress(io);
      const result = await train({
        data: o.data, out: o.out, epochs: o.epochs, imageSize: o.imageSize, arch: o.arch, weights: o.weights, alpha: o.alpha, seed: o.seed,
        resume: o.resume === true, batchSize: o.batchSize, learningRate: o.learningRate, lrSchedule: o.lrSchedule, trainableLayers: o.trainableLayers,
        pooling: o.pooling, head: o.head, denseUnits: o.dense, bayesianHidden: o.bayesianHidden === true, validationSamples: o.valSamples, balance: o.balance, augment: o.augment, patience: o.patience,
        limit: o.limit, cache: o.cache, onEvent: (event) => progress.on(event),
      });
      progress.stop();
      const last = result.state.history[result.state.history.length - 1];
      io.err(`ham10000: trained ${result.state.epoch} epochs${result.state.stoppedEarly ? ' (early stopping)' : ''}; best model (epoch ${result.state.bestEpoch}) in ${runPaths(o.out).model}\n`);
      io.out(`${JSON.stringify({ run: path.resolve(o.out), epochs: result.state.epoch, last, bestEpoch: result.state.bestEpoch, problems: result.problems.length })}\n`);
    });

  runOnData(program.command('evaluate').description('metrics JSON and confusion matrix of a run'), 'dataset folder')
    .option('--samples <n>', 'Monte Carlo samples per image', integer(2), EVALUATION_SAMPLES)
    .addOption(new Option('--checkpoint <which>', "the best model (lowest validation loss) or the last checkpoint's").choices(RUN_MODELS).default('best'))
    .option('--tta', tta)
    .addOption(new Option('--posthoc <method>', 'uncertainty without retraining: a last-layer Laplace posterior fitted to a --head dense run').choices(POSTHOC_METHODS))
    .addOption(new Option('--laplace-structure <kind>', 'covariance of the Laplace posterior').choices(LAPLACE_STRUCTURES).default(DEFAULT_LAPLACE_STRUCTURE))
    .option('--min-recall <class=recall>', "recall floor of the fitted decision rule, met on the validation split ('none': balanced accuracy alone)", minRecallOption, DEFAULT_MIN_RECALL)
    .action(async (o) => {
      await useBackend(o.backend, o.verbose);
      const evaluation = await evaluateRun({ model: o.model, data: o.data, split: o.split, samples: o.samples, seed: o.seed, tta: o.tta === true, checkpoint: o.checkpoint, posthoc: o.posthoc, laplaceStructure: o.laplaceStructure, minRecall: o.minRecall });
      const posthoc = evaluation.posthoc ? `-laplace-${evaluation.posthoc.structure}` : '';
      const file = path.join(o.model, `evaluation-${o.split}${posthoc}${evaluation.tta ? '-tta' : ''}${evaluation.checkpoint === 'last' ? '-last' : ''}.json`);
      writeFileAtomic(file, JSON.stringify(evaluation, null, 2));
      // The browser page reads the thresholds fitted for what it runs: the run's best model, without TTA or a post-hoc posterior.
      if (evaluation.referral && !evaluation.tta && evaluation.checkpoint === 'best' && evaluation.posthoc === null) {
        const { margin, mutualInformation, targetAccuracy, fitted } = evaluation.referral;
        const referral = { margin, mutualInformation, targetAccuracy, fitted, fittedOn: 'validation', samples: evaluation.samples };
        writeFileAtomic(runPaths(o.model).referral, JSON.stringify(referral, null, 2));
      }
      io.err(`ham10000: ${evaluation.count} images, accuracy ${evaluation.accuracy.toFixed(3)}, macro AUC ${evaluation.macroAuc.toFixed(3)}, ECE ${evaluation.ece.toFixed(3)} (a calibrated model: ${evaluation.eceIfCalibrated.mean.toFixed(3)}, 95 % below ${evaluation.eceIfCalibrated.upper.toFixed(3)}); written to ${file}\n`);
      const mel = evaluation.classes.indexOf('mel');
      for (const point of evaluation.operatingPoints) {
        const melRecall = mel >= 0 && point.recall[mel] !== null ? `, melanoma recall ${point.recall[mel]!.toFixed(3)}` : '';
        io.err(`  decision ${point.rule.padEnd(11)} accuracy ${point.accuracy.toFixed(3)}, balanced accuracy ${point.balancedAccuracy.toFixed(3)}${melRecall}\n`);
      }
      io.out(`${JSON.stringify(evaluation)}\n`);
    });

  program
    .command('compare')
    .description('is model A better than B on the same images, or is it chance? Paired bootstrap intervals of the metric differences')
    .requiredOption('--a <files...>', "evaluation JSON files of model A (one per seed), from 'evaluate'", (file: string, files: string[] = []) => [...files, existingPath('evaluation file')(file)])
    .requiredOption('--b <files...>', 'evaluation JSON files of model B, in the same order', (file: string, files: string[] = []) => [...files, existingPath('evaluation file')(file)])
    .option('--resamples <n>', 'bootstrap resamples', integer(1), 2000)
    .addOption(libraryDefault('--seed <n>', 'random seed', '0').argParser(integer(-2147483648)))
    .option('--verbose', 'stack traces on errors')
    .action((o) => {
      const comparison = compareEvaluationFiles(o.a, o.b, { resamples: o.resamples, seed: o.seed });
      const lines = (['accuracy', 'nll', 'brier', 'ece'] as const).map((name) => {
        const { a, b, difference, interval } = comparison[name];
        const f = (value: number) => value.toFixed(4);
        return `  ${name.padEnd(8)} A ${f(a)}  B ${f(b)}  A − B ${f(difference)}  (${Math.round(comparison.level * 100)} % interval ${f(interval[0])} … ${f(interval[1])})\n`;
      });
      io.err(`ham10000: ${comparison.count} images, paired bootstrap (${comparison.resamples} resamples):\n${lines.join('')}`);
      io.out(`${JSON.stringify(comparison)}\n`);
    });

  runOnData(program.command('localize').description("how much of the run's Bayesian maps falls on the lesion masks, against image-blind maps"), 'dataset folder with lesion masks')
    .option('--cam-samples <n>', 'networks drawn per map', integer(2), CAM_SAMPLES)
    .addOption(libraryDefault('--method <name>', 'CAM method', RUN_MAP_DEFAULT.method).choices(CAM_METHODS))
    .addOption(libraryDefault('--layer <name>', 'layer explained', RUN_MAP_DEFAULT.layer))
    .option('--tolerance <px>', 'pointing game: a peak this close to the mask is a hit', integer(0), 0)
    .addOption(libraryDefault('--aug-smooth', 'average each map over the 8 flips and quarter turns of the image (8 times the passes)', RUN_MAP_DEFAULT.augSmooth))
    .option('--no-aug-smooth', 'one view per map')
    .option('--limit <n>', 'only the first n images with a mask (quicker)', integer(1))
    .action(async (o) => {
      await useBackend(o.backend, o.verbose);
      const report = await localizeRun({ model: o.model, data: o.data, split: o.split, camSamples: o.camSamples, method: o.method, layer: o.layer, tolerance: o.tolerance, augSmooth: o.augSmooth, limit: o.limit, seed: o.seed });
      const file = path.join(o.model, localizationFile(o.split, report, o.limit));
      writeFileAtomic(file, JSON.stringify(report, null, 2));
      const pct = (value: number) => `${(100 * value).toFixed(1)} %`;
      io.err(`ham10000: ${report.images} images; ${report.method} at ${report.layer}: energy on the lesion ${pct(report.cam.energyInside)} (centred blob ${pct(report.centre.energyInside)}, ` +
        `lesion area ${pct(report.maskArea)}), peak on the lesion ${pct(report.cam.pointingHitRate)} (blob ${pct(report.centre.pointingHitRate)}); written to ${file}\n`);
      io.out(`${JSON.stringify(report)}\n`);
    });

  common(program.command('predict').description('class probability distributions, density plot and Grad-CAM overlays of one image'))
    .requiredOption('--model <run>', 'run folder of a trained model', existingPath('run folder'))
    .requiredOption('--image <file>', 'image file', existingPath('image'))
    .option('--samples <n>', 'Monte Carlo samples', integer(2), DEFAULT_SAMPLES)
    .option('--tta', tta)
    .addOption(libraryDefault('--out <dir>', 'folder for the PNGs', 'RUN/predictions/<image>'))
    .action(async (o) => {
      await useBackend(o.backend, o.verbose);
      const prediction = await predictImage({ model: o.model, image: o.image, samples: o.samples, seed: o.seed, tta: o.tta === true, out: o.out });
      io.err(`ham10000: ${prediction.predicted}; density plot and Grad-CAM overlays in ${path.dirname(prediction.files.density)}\n`);
      io.out(`${JSON.stringify(prediction, null, 2)}\n`);
    });

  runOnData(program.command('report').description('one self-contained HTML report'), 'dataset folder')
    .requiredOption('--out <file>', 'HTML file to write')
    .option('--samples <n>', 'Monte Carlo samples per image', integer(2), EVALUATION_SAMPLES)
    .option('--examples <n>', 'sample images with plots and overlays', integer(0), 7)
    .option('--tta', tta)
    .addOption(libraryDefault('--cam-method <name>', "CAM method of the sample images' maps", RUN_MAP_DEFAULT.method).choices(CAM_METHODS))
    .addOption(libraryDefault('--cam-layer <name>', 'layer those maps explain', RUN_MAP_DEFAULT.layer))
    .addOption(libraryDefault('--aug-smooth', 'average those maps over the 8 flips and quarter turns', RUN_MAP_DEFAULT.augSmooth))
    .option('--no-aug-smooth', 'one view per map')
    .action(async (o) => {
      await useBackend(o.backend, o.verbose);
      const { file } = await writeReport({
        model: o.model, data: o.data, out: o.out, split: o.split, samples: o.samples, seed: o.seed, tta: o.tta === true, examples: o.examples,
        camMethod: o.camMethod, camLayer: o.camLayer, augSmooth: o.augSmooth,
      });
      io.err(`ham10000: report written to ${file}\n`);
      io.out(`${file}\n`);
    });
  return program;
}

/** The training progress bar (epoch, step, loss, KL, accuracy, ETA), plus one plain line per epoch for logs. */
class TrainProgress {
  private bar: cliProgress.SingleBar | null = null;

  constructor(private readonly io: CliIo) {}

  on(event: TrainEvent): void {
    if (event.type === 'start') {
      const c = event.config;
      for (const warning of c.warnings) this.io.err(`WARNING: ${warning}\n`);
      this.io.err(`ham10000: ${c.arch} at ${c.imageSize} px, ${c.split.train.length}/${c.split.validation.length}/${c.split.test.length} train/validation/test images, ` +
        `${c.frozenLayerCount} frozen layers, ${event.problems.length} problems skipped${event.startEpoch ? `, resuming after epoch ${event.startEpoch}` : ''}\n`);
    } else if (event.type === 'cache' && event.done === event.total) {
      this.io.err(`ham10000: ${event.split} features cached (${event.total} images)\n`);
    } else if (event.type === 'step') {
      this.step(event);
    } else if (event.type === 'epoch') {
      this.stop();
      const r = event.record;
      const validation = r.valLoss === null ? '' : `, val loss ${r.valLoss.toFixed(4)}, val acc ${r.valAccuracy!.toFixed(3)}`;
      this.io.err(`epoch ${r.epoch}: loss ${r.loss.toFixed(4)}, KL ${r.kl.toFixed(4)}, acc ${r.accuracy.toFixed(3)}${validation}, ${r.seconds.toFixed(1)} s${event.improved ? ' (best)' : ''}; checkpoint ${event.checkpoint}\n`);
    }
  }

  private step(event: Extract<TrainEvent, { type: 'step' }>): void {
    if (!this.io.bars) return;
    const values = { epoch: `${event.epoch}/${event.epochs}`, loss: event.loss.toFixed(4), kl: event.kl.toFixed(4), acc: event.accuracy.toFixed(3) };
    if (!this.bar) {
      this.bar = new cliProgress.SingleBar(
        { format: 'epoch {epoch} |{bar}| step {value}/{total} | loss {loss} | KL {kl} | acc {acc} | ETA {eta_formatted}', stream: process.stderr, etaBuffer: 20 },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(event.steps, 0, values);
    }
    this.bar.update(event.step, values);
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}

/** Runs the CLI on this process's arguments and sets its exit code: the built `ham10000` executable (tsup.config.ts), or `tsx src/ham10000/cli.ts`. */
export function runAsProgram(): void {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}

if (typeof require !== 'undefined' && typeof module !== 'undefined' && require.main === module) runAsProgram();
