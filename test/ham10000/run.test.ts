import { resnetSmall } from '../../src/ham10000/resnet_small';
import { main } from '../../src/ham10000/cli';
import { ARCH_DEFAULTS, ARCH_EXPLANATIONS, explanationName, runExplanation } from '../../src/ham10000/run';

/** A command's --help as one line (Commander wraps it at the terminal width). */
async function help(command: string): Promise<string> {
  let text = '';
  await main([command, '--help'], { out: (t) => (text += t), err: (t) => (text += t), bars: false });
  return text.replace(/\s+/g, ' ');
}

describe('runExplanation: the map the pipeline draws for a run', () => {
  it("is Grad-CAM at the run's last convolution, one view, for every network but resnet-small", () => {
    for (const arch of ['vgg16', 'compact', 'resnet50', 'mobilenetv2'] as const) {
      expect(runExplanation({ arch, camLayer: 'last_conv' })).toEqual({ method: 'gradcam', layer: 'last_conv', augSmooth: false });
    }
  });

  it("is LayerCAM at resnet-small's first stage, aug-smoothed: a layer the network has, whatever its recorded camLayer", () => {
    const explanation = runExplanation({ arch: 'resnet-small', camLayer: 'stage3_out' });
    expect(explanation).toEqual({ method: 'layercam', layer: 'stage1_out', augSmooth: true });
    const { model } = resnetSmall({ inputShape: [16, 16, 3] });
    expect(model.getLayer(explanation.layer).outputShape).toEqual([null, 8, 8, 32]);
    model.dispose();
  });

  it('takes each part the caller gives in place of the default', () => {
    const config = { arch: 'resnet-small', camLayer: 'stage3_out' } as const;
    expect(runExplanation(config, { method: 'gradcam' })).toEqual({ method: 'gradcam', layer: 'stage1_out', augSmooth: true });
    expect(runExplanation(config, { layer: 'stage2_out', augSmooth: false })).toEqual({ method: 'layercam', layer: 'stage2_out', augSmooth: false });
    expect(runExplanation({ arch: 'compact', camLayer: 'block4_conv1' }, { augSmooth: true })).toEqual({ method: 'gradcam', layer: 'block4_conv1', augSmooth: true });
  });

  it('names a map for labels and reports', () => {
    expect(explanationName({ method: 'gradcam', layer: 'block5_conv3', augSmooth: false })).toBe('Grad-CAM at block5_conv3');
    expect(explanationName({ method: 'layercam', layer: 'stage1_out', augSmooth: true })).toBe('layercam at stage1_out, aug-smoothed');
  });

  it("shows each network's own defaults in --help, read from the tables the library decides by", async () => {
    const map = ARCH_EXPLANATIONS['resnet-small']!;
    expect(await help('localize')).toContain(`default: gradcam; resnet-small ${map.method})`);
    expect(await help('report')).toContain(`(default: the last convolution; resnet-small ${map.layer})`);
    const train = await help('train');
    expect(train).toContain(`(default: 224; compact ${ARCH_DEFAULTS.compact!.imageSize}; resnet-small ${ARCH_DEFAULTS['resnet-small']!.imageSize})`);
    expect(train).toContain('(default: off; compact on; resnet-small on)');
  });
});
