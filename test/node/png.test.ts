import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import sharp from 'sharp';
import { overlay } from '../../src/explain';
import { encodePng, writeOverlayPng, writePng } from '../../src/node';
import { expectNoLeaks } from '../helpers';

/** Decodes a PNG back to raw bytes with sharp, independently of the encoder's code path. */
async function decode(png: Buffer): Promise<{ data: number[]; width: number; height: number; channels: number }> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { data: Array.from(data), width: info.width, height: info.height, channels: info.channels };
}

describe('PNG output (Node)', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tfjs-trust-png-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('encodePng round-trips exact bytes, rounding and clipping out-of-range values', async () => {
    const pixels = [0, 127.6, 255, 300, -4, 10.2, 1, 2, 3, 4, 5, 6];
    const rgb = tf.tensor3d(pixels, [2, 2, 3]);
    const png = await expectNoLeaks(() => encodePng(rgb), () => undefined);
    expect(png.subarray(1, 4).toString('ascii')).toBe('PNG');
    expect(await decode(png)).toEqual({ data: [0, 128, 255, 255, 0, 10, 1, 2, 3, 4, 5, 6], width: 2, height: 2, channels: 3 });
    rgb.dispose();
  });

  it('writePng creates the folder and writes a decodable file', async () => {
    const rgb = tf.fill([3, 5, 3], 200, 'int32') as tf.Tensor3D;
    const file = path.join(dir, 'nested', 'folder', 'image.png');
    await writePng(file, rgb);
    const decoded = await decode(fs.readFileSync(file));
    expect([decoded.width, decoded.height]).toEqual([5, 3]);
    expect(decoded.data.every((v) => v === 200)).toBe(true);
    rgb.dispose();
  });

  it('writeOverlayPng writes exactly what overlay computes, without leaking', async () => {
    const image = tf.tidy(() => tf.mul(tf.randomUniform([4, 4, 3], 0, 1, 'float32', 5), 255)) as tf.Tensor3D;
    const heatmap = tf.randomUniform([2, 2], 0, 1, 'float32', 6) as tf.Tensor2D;
    const file = path.join(dir, 'overlay.png');
    await expectNoLeaks(() => writeOverlayPng(file, image, heatmap, { colormap: 'viridis', alpha: 0.3 }), () => undefined);
    const expected = overlay(image, heatmap, { colormap: 'viridis', alpha: 0.3 });
    expect((await decode(fs.readFileSync(file))).data).toEqual(Array.from(expected.dataSync()));
    tf.dispose([image, heatmap, expected]);
  });

  it('refuses a tensor that is not [height, width, 1|3|4], naming the shape and the fix', async () => {
    const batch = tf.zeros([1, 2, 2, 3]);
    await expect(encodePng(batch as unknown as tf.Tensor3D)).rejects.toThrow(
      /encodePng: rgb must be a tensor \[height, width, 3\] \(or 1 or 4 channels\) in 0\.\.255; got shape \[1, 2, 2, 3\]\. Take one image/,
    );
    batch.dispose();
  });
});
