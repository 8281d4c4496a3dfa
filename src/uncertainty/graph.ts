import type * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { ShapeError } from '../errors';
import { describe } from '../validation';
import { stochasticLayers } from '../layers/sampling';

/** The parts of a tfjs-layers graph node read here (tfjs-layers does not export its `Node` class). */
export interface GraphNode {
  outboundLayer: tfl.layers.Layer;
  inputTensors: tfl.SymbolicTensor[];
  outputTensors: tfl.SymbolicTensor[];
  callArgs?: Record<string, unknown>;
}

/** Values of symbolic tensors, by symbolic tensor id. */
export type Feed = Map<number, tf.Tensor>;

/**
 * A model cut in two: the deterministic prefix (every node upstream of all stochastic layers),
 * run once per batch, and the stochastic suffix (every node that is stochastic or fed by one),
 * run once per sample. The cut is found on the graph, so Sequential models, functional models
 * with branches and a nested base model followed by a stochastic head are all handled alike.
 */
export interface ModelSplit {
  input: tfl.SymbolicTensor;
  output: tfl.SymbolicTensor;
  /** Nodes in execution order that no stochastic layer influences. */
  prefix: GraphNode[];
  /** Nodes in execution order that a stochastic layer influences; empty for a deterministic model. */
  suffix: GraphNode[];
  /** The prefix tensors the suffix reads: the model input itself when a stochastic layer comes first. */
  cut: tfl.SymbolicTensor[];
}

/** Splits a single-input, single-output model at its first stochastic layers. */
export function splitModel(who: string, model: tfl.LayersModel): ModelSplit {
  if (model instanceof tfl.Sequential && !model.built) model.build();
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new ShapeError(
      `${who}: model must have one input and one output; got ${model.inputs.length} input(s) and ` +
        `${model.outputs.length} output(s). Wrap it in a model with a single image input and a single probability output.`,
    );
  }
  const prefix: GraphNode[] = [];
  const suffix: GraphNode[] = [];
  const influenced = new Set<number>();
  for (const node of executionOrder(model)) {
    const stochastic =
      stochasticLayers({ layers: [node.outboundLayer] }).length > 0 ||
      node.inputTensors.some((tensor) => influenced.has(tensor.id));
    if (stochastic) node.outputTensors.forEach((tensor) => influenced.add(tensor.id));
    (stochastic ? suffix : prefix).push(node);
  }
  const cut = new Map<number, tfl.SymbolicTensor>();
  for (const node of suffix) {
    for (const tensor of node.inputTensors) if (!influenced.has(tensor.id)) cut.set(tensor.id, tensor);
  }
  return { input: model.inputs[0], output: model.outputs[0], prefix, suffix, cut: [...cut.values()] };
}

/** The model's nodes, inputs first: tfjs-layers' own order (deepest first), as its executor runs them. */
function executionOrder(model: tfl.LayersModel): GraphNode[] {
  const byDepth = (model as unknown as { nodesByDepth: Record<string, GraphNode[]> }).nodesByDepth;
  return Object.keys(byDepth)
    .map(Number)
    .sort((a, b) => b - a)
    .flatMap((depth) => byDepth[depth]);
}

/**
 * Runs `nodes` eagerly from the tensors in `feed` and returns the values of `wanted`. Nodes whose
 * outputs are already fed (the input layer, the prefix when running the suffix) are skipped.
 * Call inside `tf.tidy`: intermediate tensors are left to it.
 */
export function runNodes(nodes: GraphNode[], feed: Feed, wanted: tfl.SymbolicTensor[]): tf.Tensor[] {
  const values: Feed = new Map(feed);
  for (const node of nodes) {
    if (node.outputTensors.every((tensor) => values.has(tensor.id))) continue;
    const inputs = node.inputTensors.map((tensor) => values.get(tensor.id));
    if (inputs.some((value) => value === undefined)) continue;
    const args = inputs.length === 1 ? inputs[0]! : (inputs as tf.Tensor[]);
    const outputs = node.outboundLayer.apply(args, node.callArgs ?? {}) as tf.Tensor | tf.Tensor[];
    (Array.isArray(outputs) ? outputs : [outputs]).forEach((value, index) => values.set(node.outputTensors[index].id, value));
  }
  return wanted.map((tensor) => {
    const value = values.get(tensor.id);
    if (value === undefined) {
      throw new ShapeError(`runNodes: tensor '${tensor.name}' could not be computed from the fed tensors ${describe([...feed.keys()])}.`);
    }
    return value;
  });
}
