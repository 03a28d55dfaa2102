/** Appends every item of `items` to `target` without spreading (a spread of 100,000+ items overflows the stack). */
export function pushAll<T>(target: T[], items: readonly T[]): T[] {
  for (let i = 0; i < items.length; i++) target.push(items[i] as T);
  return target;
}
