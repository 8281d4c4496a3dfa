import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs-core';
import { main } from '../../src/ham10000/cli';
import { mobilenetV2 } from '../../src/ham10000/mobilenet_v2';
import { writeSyntheticHam10000 } from '../../src/ham10000/synthetic';
import { vgg16 } from '../../src/ham10000/vgg16';
import { CACHE_ENV, cachedWeightFile, imagenetWeightSpec, KERAS_APPLICATIONS_URL, WEIGHTS_URL_ENV, weightsCacheDir } from '../../src/node/keras_applications';
import { writeLegacyH5 } from '../keras/write_h5';

/** A loopback port nothing listens on (taken, then released): a refused connection, never the internet. */
function closedPort(): Promise<number> {
  const server = net.createServer();
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    }),
  );
}

/** A loopback server: `/whole` serves `body`, `/cut` announces it whole and hangs up halfway, anything else is 404. */
function serve(body: Uint8Array): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((request, response) => {
    if (request.url === '/whole' || request.url === '/cut') {
      response.writeHead(200, { 'content-length': body.length });
      if (request.url === '/whole') return response.end(body);
      response.write(body.subarray(0, body.length >> 1), () => response.destroy());
      return;
    }
    response.writeHead(404).end();
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      resolve({ url, close: () => new Promise((done) => server.close(() => done())) });
    }),
  );
}

describe('imagenetWeightSpec: Keras file names, addresses and hashes', () => {
  it("names each notop file as Keras does, at Keras' address, with Keras' MD5 where Keras publishes one", () => {
    expect(imagenetWeightSpec('vgg16')).toEqual({
      file: 'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5',
      url: `${KERAS_APPLICATIONS_URL}vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5`,
      md5: '6d6bbae143d832006294945121d1f1fc',
    });
    expect(imagenetWeightSpec('resnet50')).toMatchObject({ url: `${KERAS_APPLICATIONS_URL}resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5`, md5: '4d473c1dd8becc155b73f8504c6f6626' });
    expect(imagenetWeightSpec('mobilenetv2', { alpha: 0.35, imageSize: 96 })).toEqual({
      file: 'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5',
      url: `${KERAS_APPLICATIONS_URL}mobilenet_v2/mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96_no_top.h5`,
      md5: null,
    });
    // Keras falls back to the 224-pixel file for sizes without their own, and formats 1 as 1.0.
    expect(imagenetWeightSpec('mobilenetv2', { alpha: 1, imageSize: 64 }).file).toBe('mobilenet_v2_weights_tf_dim_ordering_tf_kernels_1.0_224_no_top.h5');
    expect(() => imagenetWeightSpec('mobilenetv2', { alpha: 0.1 })).toThrow(
      'mobilenetV2: alpha must be one of 0.35, 0.5, 0.75, 1, 1.3, 1.4 with ImageNet weights (the widths Keras publishes); got 0.1. Use one of them, or give your own --weights file.',
    );
  });

  it(`moves the cache with ${CACHE_ENV} and the address with ${WEIGHTS_URL_ENV}`, () => {
    const saved = { cache: process.env[CACHE_ENV], url: process.env[WEIGHTS_URL_ENV] };
    try {
      delete process.env[CACHE_ENV];
      expect(weightsCacheDir()).toBe(path.join(os.homedir(), '.cache', 'tfjs-trust', 'models'));
      process.env[CACHE_ENV] = '/somewhere';
      process.env[WEIGHTS_URL_ENV] = 'http://127.0.0.1:9/mirror';
      expect(weightsCacheDir()).toBe(path.join('/somewhere', 'models'));
      expect(imagenetWeightSpec('vgg16').url).toBe('http://127.0.0.1:9/mirror/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5');
    } finally {
      for (const [key, value] of [[CACHE_ENV, saved.cache], [WEIGHTS_URL_ENV, saved.url]] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });
});

describe('cachedWeightFile: download once, check, keep', () => {
  const body = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 251);
  const md5 = createHash('md5').update(body).digest('hex');
  let server: Awaited<ReturnType<typeof serve>>;
  let dir: string;
  beforeAll(async () => (server = await serve(body)));
  afterAll(() => server.close());
  beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'weights-cache-'))));
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  let offline: string;
  beforeAll(async () => (offline = `http://127.0.0.1:${await closedPort()}`));

  it('downloads with progress, checks the MD5, and then uses the cached file with no network', async () => {
    const progress: number[] = [];
    const file = await cachedWeightFile({ file: 'w.h5', url: `${server.url}/whole`, md5 }, { cacheDir: dir, onProgress: (received, total) => progress.push(received / total!) });
    expect(file).toBe(path.join(dir, 'w.h5'));
    expect(createHash('md5').update(fs.readFileSync(file)).digest('hex')).toBe(md5);
    expect(progress[progress.length - 1]).toBe(1);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    // The server is not asked again: an unreachable address still gives the cached file.
    expect(await cachedWeightFile({ file: 'w.h5', url: `${offline}/w.h5`, md5 }, { cacheDir: dir })).toBe(file);
    expect(fs.readdirSync(dir)).toEqual(['w.h5']);
  });

  it('keeps nothing from a transfer cut in the middle', async () => {
    await expect(cachedWeightFile({ file: 'w.h5', url: `${server.url}/cut`, md5 }, { cacheDir: dir, onProgress: () => undefined })).rejects.toThrow(
      new RegExp(`^cachedWeightFile: the transfer of ${server.url}/cut (broke after|ended after) \\d+ .*nothing was kept\\. Run again, or: Download it on a networked machine and put it at ${dir}/w\\.h5`),
    );
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('refuses a file whose MD5 is not the published one, naming both hashes', async () => {
    const wrong = '0'.repeat(32);
    await expect(cachedWeightFile({ file: 'w.h5', url: `${server.url}/whole`, md5: wrong }, { cacheDir: dir, onProgress: () => undefined })).rejects.toThrow(
      `cachedWeightFile: ${server.url}/whole must have Keras' MD5 ${wrong}; the downloaded file has ${md5}, so it was refused.`,
    );
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('says in one line where to put the file by hand when the address cannot be reached or answers 404', async () => {
    const refused = cachedWeightFile({ file: 'w.h5', url: `${offline}/w.h5`, md5 }, { cacheDir: dir });
    await expect(refused).rejects.toThrow(
      `cachedWeightFile: cannot reach ${offline}/w.h5 (ECONNREFUSED). Download it on a networked machine and put it at ${path.join(dir, 'w.h5')} (or set ${CACHE_ENV}).`,
    );
    await expect(refused).rejects.not.toThrow(/\n/);
    await expect(cachedWeightFile({ file: 'w.h5', url: `${server.url}/missing`, md5 }, { cacheDir: dir })).rejects.toThrow(/answered HTTP 404; expected the weight file\. Download it on a networked machine/);
  });
});

describe("weights: 'imagenet'", () => {
  const saved = { cache: process.env[CACHE_ENV], url: process.env[WEIGHTS_URL_ENV] };
  let dir: string;
  let offline: string;
  beforeAll(async () => (offline = `http://127.0.0.1:${await closedPort()}`));
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imagenet-'));
    process.env[CACHE_ENV] = dir;
    // A closed loopback port: these tests never reach the internet, whatever happens.
    process.env[WEIGHTS_URL_ENV] = `${offline}/`;
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    for (const [key, value] of [[CACHE_ENV, saved.cache], [WEIGHTS_URL_ENV, saved.url]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  });

  it('loads the file from the cache under its Keras name, with no network', async () => {
    const source = await mobilenetV2({ inputShape: [64, 64, 3], alpha: 0.35, seed: 7 });
    fs.mkdirSync(path.join(dir, 'models'));
    // 64 px has no file of its own: Keras (and this) take the 224 one.
    fs.writeFileSync(path.join(dir, 'models', 'mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_224_no_top.h5'), await writeLegacyH5(source.model));
    const loaded = await mobilenetV2({ inputShape: [64, 64, 3], alpha: 0.35, weights: 'imagenet' });
    expect(loaded.pretrained).toBe(true);
    const [want, got] = [source.model.getWeights(), loaded.model.getWeights()];
    expect(got.length).toBe(want.length);
    // Bit for bit (jest's toEqual walks 400 k elements one by one: far too slow).
    const bytes = (values: tf.Tensor) => Buffer.from((values.dataSync() as Float32Array).buffer);
    expect(got.filter((weight, i) => !bytes(weight).equals(bytes(want[i])))).toEqual([]);
    source.model.dispose();
    loaded.model.dispose();
  });

  it('ham10000 train --weights imagenet fails offline with that one line, exit code 1', async () => {
    const data = path.join(dir, 'data');
    await writeSyntheticHam10000(data, { imagesPerClass: 2, width: 40, height: 30, seed: 1 });
    let err = '';
    const code = await main(['train', '--data', data, '--out', path.join(dir, 'run'), '--arch', 'resnet50', '--weights', 'imagenet', '--image-size', '32', '--backend', 'cpu'], {
      out: () => undefined,
      err: (text) => (err += text),
      bars: false,
    });
    expect(code).toBe(1);
    const target = path.join(dir, 'models', 'resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5');
    expect(err.split('\n').filter((line) => line.startsWith('ham10000: error'))).toEqual([
      `ham10000: error: cachedWeightFile: cannot reach ${offline}/resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5 (ECONNREFUSED). Download it on a networked machine and put it at ${target} (or set ${CACHE_ENV}).`,
    ]);
  });

  it('fails offline in one line naming the address and the path for the file', async () => {
    const target = path.join(dir, 'models', 'vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5');
    await expect(vgg16({ inputShape: [32, 32, 3], weights: 'imagenet' })).rejects.toThrow(
      `cachedWeightFile: cannot reach ${offline}/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 (ECONNREFUSED). Download it on a networked machine and put it at ${target} (or set ${CACHE_ENV}).`,
    );
  });
});
