/**
 * One pass over the match view that answers "does the text contain gate string g?" for
 * every gate of every injection rule at once. Before this, each rule ran `includes` for
 * each of its gates: ~500 substring searches per message, most of the screening time.
 *
 * The scan is a single regex with a lookahead, tried at every position, whose
 * alternatives are all gate strings, longest first. At a position it therefore reports
 * the longest gate starting there; every other gate starting at the same position is a
 * prefix of that one (both are prefixes of the text from there), so a precomputed
 * prefix table recovers the full set. The result is exactly the set of gates for which
 * `text.includes(gate)` holds. No `u` or `i` flag: gates compare UTF-16 units exactly,
 * like `includes`.
 */

export interface GateIndex {
  /** Every distinct gate string, longest first; a gate's id is its index here. */
  readonly gates: readonly string[];
  /** Ids of the gates found in `text`, as a membership table indexed by gate id. */
  scan(text: string): Uint8Array;
  /** Ids of `gates` (which must be among the indexed ones). */
  idsOf(gates: readonly string[]): Uint16Array;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

export function buildGateIndex(gateLists: Iterable<readonly string[]>): GateIndex {
  const distinct = new Set<string>();
  for (const list of gateLists) for (const g of list) if (g.length > 0) distinct.add(g);
  // Longest first so the regex (leftmost alternative wins) reports the longest gate at a position.
  const gates = [...distinct].sort((a, b) => b.length - a.length || (a < b ? -1 : a > b ? 1 : 0));
  const id = new Map<string, number>(gates.map((g, i) => [g, i]));
  const prefixes: Uint16Array[] = gates.map((g) => Uint16Array.from(gates.flatMap((p, i) => (g.startsWith(p) ? [i] : []))));
  const scanner = gates.length === 0 ? null : new RegExp(`(?=(${gates.map(escapeRegExp).join('|')}))`, 'g');

  return {
    gates,
    scan(text: string): Uint8Array {
      const found = new Uint8Array(gates.length);
      if (scanner === null) return found;
      scanner.lastIndex = 0;
      for (let m = scanner.exec(text); m !== null; m = scanner.exec(text)) {
        for (const p of prefixes[id.get(m[1]) as number]) found[p] = 1;
        // The match is empty (a lookahead): step past it to try the next position.
        scanner.lastIndex = m.index + 1;
      }
      return found;
    },
    idsOf(list: readonly string[]): Uint16Array {
      return Uint16Array.from(list.map((g) => {
        const i = id.get(g);
        if (i === undefined) throw new Error(`gate "${g}" is not indexed`);
        return i;
      }));
    },
  };
}
