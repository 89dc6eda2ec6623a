/**
 * Values derived from a federation's settings (its feature encoder, its feature count), computed once per
 * parsed settings object rather than once per request. The federation repository hands every request the
 * same frozen objects while the stored text is unchanged, and a new object once it changes, so keying on
 * the object is exact. Only frozen keys are remembered: an object that can still change could make a
 * remembered value wrong, so it is derived afresh each time.
 */
export function memoPerFrozen<K extends object, V>(derive: (key: K) => V): (key: K) => V {
  const memo = new WeakMap<K, V>();
  return (key) => {
    if (!Object.isFrozen(key)) return derive(key);
    let value = memo.get(key);
    if (value === undefined && !memo.has(key)) memo.set(key, (value = derive(key)));
    return value as V;
  };
}
