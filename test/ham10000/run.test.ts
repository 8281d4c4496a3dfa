import { resnetSmall } from '../../src/ham10000/resnet_small';
import { explanationName, runExplanation } from '../../src/ham10000/run';

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
});
