/**
 * The simulated pods' names and uids, so that sim traces name pods the way cluster traces
 * do (issue 11: stable pod identity in every row). Both are pure functions of the episode's
 * seed and the pod's creation counter (`PodTable.id`): the same seed gives the same names,
 * so traces stay bit-identical per seed, and different seeds give different uids.
 *
 * The seed part is built once per reset (`podNamePrefix`, `podUidPrefix`); a pod's name and
 * uid are one concatenation each, made when the pod is created (never per step).
 *
 *   name  sim-<8 hex of the seed's hash>-<id>             e.g. sim-3c1f09a2-4
 *   uid   <8>-<4>-4<3>-8<3>-<12 hex of the id>            (UUID layout, version 4 nibble)
 */

/** 32-bit integer hash (splitmix32's finaliser): spreads nearby seeds apart. */
function mix32(x: number): number {
  let z = (x + 0x9e3779b9) | 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

const hex = (n: number, digits: number) => n.toString(16).padStart(digits, "0").slice(-digits);

/** `sim-<hash>-`: the part of every pod name that the seed fixes. */
export function podNamePrefix(seed: number): string {
  return `sim-${hex(mix32(seed | 0), 8)}-`;
}

/** The first four groups of every pod uid of an episode with this seed (trailing `-` included). */
export function podUidPrefix(seed: number): string {
  const a = mix32(seed ^ 0x5bd1e995);
  const b = mix32(a);
  const c = mix32(b);
  return `${hex(a, 8)}-${hex(b >>> 16, 4)}-4${hex(b & 0xfff, 3)}-${hex(8 | (c >>> 30), 1)}${hex(c & 0xfff, 3)}-`;
}

export function simPodName(prefix: string, id: number): string {
  return prefix + id;
}

export function simPodUid(prefix: string, id: number): string {
  return prefix + id.toString(16).padStart(12, "0");
}
