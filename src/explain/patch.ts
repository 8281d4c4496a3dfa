/**
 * Temporarily replaces `target[key]` and returns the function that puts the original back (an
 * inherited property, such as a layer's `call`, is restored by deleting the own override).
 * The explainers use it to look inside a model without rebuilding it; callers restore in `finally`.
 */
export function patch(target: object, key: string, value: unknown): () => void {
  const record = target as Record<string, unknown>;
  const hadOwn = Object.prototype.hasOwnProperty.call(target, key);
  const previous = record[key];
  record[key] = value;
  return () => {
    if (hadOwn) record[key] = previous;
    else delete record[key];
  };
}
