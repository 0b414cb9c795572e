// tests/js/seeded.mjs - a seeded random source for the hostile-input tests:
// the same seed gives the same requests, so a failure can be replayed.
// xorshift32 (never seeded with 0: it would stay there).
export function seeded(seedArg) {
  let seed = Number(seedArg) >>> 0 || 1;
  const rnd = () => {
    seed ^= seed << 13; seed >>>= 0;
    seed ^= seed >>> 17;
    seed ^= seed << 5; seed >>>= 0;
    return seed / 4294967296;
  };
  return { rnd, pick: (a) => a[Math.floor(rnd() * a.length)], int: (n) => Math.floor(rnd() * n) };
}
