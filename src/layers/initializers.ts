import { serialization } from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { invalidArgument } from '../validation';

/** A tfjs-layers initializer, a type tfjs-layers does not export by name. */
export type Initializer = ReturnType<typeof tfl.initializers.randomNormal>;

/** A tfjs initializer, or its serialised form `{ className, config }` as stored in a model file. */
export type InitializerSpec = Initializer | { className: string; config: serialization.ConfigDict };

/** Turns an initializer or its serialised form into an initializer; `who` names the layer in errors. */
export function resolveInitializer(who: string, argument: string, spec: InitializerSpec): Initializer {
  if (typeof (spec as Initializer)?.apply === 'function') return spec as Initializer;
  const classNames = serialization.SerializationMap.getMap().classNameMap;
  const className = (spec as { className?: unknown })?.className;
  // Own keys only: 'constructor' or 'toString' must not resolve to Object.prototype's members.
  const own = typeof className === 'string' && Object.prototype.hasOwnProperty.call(classNames, className);
  const registered = own ? classNames[className as string] : undefined;
  if (!registered) {
    invalidArgument(who, argument, 'a tf.initializers initializer or { className, config } of a registered one', spec);
  }
  const [cls, fromConfig] = registered;
  const { config } = spec as { config: serialization.ConfigDict };
  if (typeof config !== 'object' || config === null) {
    invalidArgument(who, `${argument}.config`, `the config object of a ${className}`, config);
  }
  return fromConfig(cls, config) as Initializer;
}

/** The serialised form stored in `getConfig()`. */
export function serializeInitializer(initializer: Initializer): serialization.ConfigDict {
  return { className: initializer.getClassName(), config: initializer.getConfig() };
}
