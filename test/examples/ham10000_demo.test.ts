import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runDemo } from '../../examples/ham10000-demo';
import { readRunConfig } from '../../src/ham10000/run';
import { writeSyntheticHam10000 } from '../../src/ham10000/synthetic';

const KERAS_MOBILENET = path.join(__dirname, '..', 'fixtures', 'keras', 'mobilenetv2_0.1.tf_keras.weights-only.h5');

describe('npm run demo -- --arch mobilenetv2 --weights FILE', () => {
  let dir: string;
  beforeAll(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-'))));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs the whole chain on a Keras-written MobileNetV2 file: frozen pretrained base, feature cache, Bayesian head', async () => {
    // Small images (the demo's own are HAM10000-sized): generating them would take most of the time.
    const data = path.join(dir, 'data');
    await writeSyntheticHam10000(data, { imagesPerClass: 10, width: 48, height: 36, seed: 5 });
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    const stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    let code: number;
    try {
      code = await runDemo(['--data', data, '--out', dir, '--arch', 'mobilenetv2', '--alpha', '0.1', '--weights', KERAS_MOBILENET, '--epochs', '2', '--samples', '4', '--examples', '2', '--backend', 'cpu']);
    } finally {
      stderr.mockRestore();
      stdout.mockRestore();
    }
    expect(code).toBe(0);
    const config = readRunConfig(path.join(dir, 'run'));
    expect(config).toMatchObject({ arch: 'mobilenetv2', alpha: 0.1, pretrained: true, preprocessing: 'tf', camLayer: 'out_relu', frozenLayerCount: 154, head: 'flipout', warnings: [] });
    expect(config.weights).toBe(KERAS_MOBILENET);
    for (const file of ['run/evaluation-test.json', 'run/localization-test-gradcam-out_relu.json', 'prediction/gradcam-mean.png', 'report.html']) {
      expect(fs.existsSync(path.join(dir, file))).toBe(true);
    }
    // Real data (--data) caches the frozen base's features on disk: 1280 per image, MobileNetV2's last feature map at 32 px.
    const cache = JSON.parse(fs.readFileSync(path.join(dir, 'run', 'cache', 'train.f32.json'), 'utf8'));
    expect(cache.featureShape).toEqual([1, 1, 1280]);
  }, 400_000);
});
