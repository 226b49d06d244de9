/**
 * Validation once per input object, for batches that build many episodes from the same
 * scenario objects (the schedule here, the simulator's parameters in sim/).
 */
/**
 * A cache for {@link parseOnce}: the validated output of one schema, by input object. Give
 * each schema its own.
 */
export type ParseCache<T> = WeakMap<object, T>;

/**
 * `schema.parse(input)`, remembered per input object: a batch builds every episode from the
 * same scenario objects, and validating them again per episode costs more than a short
 * episode's steps. As with SimEnv's config, an input object must not be mutated once parsed.
 */
export function parseOnce<T>(cache: ParseCache<T>, schema: { parse(input: unknown): T }, input: object): T {
  let parsed = cache.get(input);
  if (parsed === undefined) {
    parsed = schema.parse(input);
    cache.set(input, parsed);
  }
  return parsed;
}
