/**
 * One pass over a text that answers "does the text contain gate string g?" for every gate
 * of every rule at once (the injection rules over the match view, the secret rules over the
 * lower-cased clean view). A rule's regex runs only when one of its gates is present.
 *
 * An Aho–Corasick automaton over UTF-16 code units, compiled to a dense transition table:
 * the gates' distinct code units form a small alphabet (every other unit is one "other"
 * column, which always leads back to the root), so a step is a table lookup and the scan
 * is linear in the text, whatever the number of gates. Each state lists the gates that end
 * there, its own and those of its suffixes, so the result is exactly the set of gates for
 * which `text.includes(gate)` holds (compared unit by unit, no case or Unicode folding).
 * It replaced one regex with a lookahead over all gates tried at every position, which cost
 * ~9% of a tool-output screen.
 */

export interface GateIndex {
  /** Every distinct gate string, longest first; a gate's id is its index here. */
  readonly gates: readonly string[];
  /** Ids of the gates found in `text`, as a membership table indexed by gate id. */
  scan(text: string): Uint8Array;
  /** Ids of `gates` (which must be among the indexed ones). */
  idsOf(gates: readonly string[]): Uint16Array;
}

export function buildGateIndex(gateLists: Iterable<readonly string[]>): GateIndex {
  const distinct = new Set<string>();
  for (const list of gateLists) for (const g of list) if (g.length > 0) distinct.add(g);
  const gates = [...distinct].sort((a, b) => b.length - a.length || (a < b ? -1 : a > b ? 1 : 0));
  const id = new Map<string, number>(gates.map((g, i) => [g, i]));

  // Alphabet: column 0 is every code unit no gate contains.
  const column = new Uint16Array(0x10000);
  let width = 1;
  for (const g of gates) for (let i = 0; i < g.length; i++) if (column[g.charCodeAt(i)] === 0) column[g.charCodeAt(i)] = width++;

  // The trie, as a growable dense table (0 = no edge yet; state 0 is the root).
  let table = new Int32Array(64 * width);
  let states = 1;
  const ends: number[][] = [[]];
  for (const [gi, g] of gates.entries()) {
    let s = 0;
    for (let i = 0; i < g.length; i++) {
      const k = s * width + column[g.charCodeAt(i)];
      if (table[k] === 0) {
        if (states * width >= table.length) {
          const bigger = new Int32Array(table.length * 2);
          bigger.set(table);
          table = bigger;
        }
        table[k] = states++;
        ends.push([]);
      }
      s = table[k];
    }
    ends[s].push(gi);
  }

  // Breadth first: failure links, missing edges filled from them (a DFA), outputs merged from suffixes.
  const fail = new Int32Array(states);
  const queue: number[] = [];
  for (let c = 0; c < width; c++) {
    const t = table[c];
    if (t !== 0) {
      fail[t] = 0;
      queue.push(t);
    }
  }
  for (let q = 0; q < queue.length; q++) {
    const s = queue[q];
    for (const gi of ends[fail[s]]) ends[s].push(gi);
    for (let c = 0; c < width; c++) {
      const k = s * width + c;
      const t = table[k];
      if (t !== 0) {
        fail[t] = table[fail[s] * width + c];
        queue.push(t);
      } else {
        table[k] = table[fail[s] * width + c];
      }
    }
  }
  // Column 0 of every state stays 0: a unit outside the alphabet ends every partial match.
  const delta = table.slice(0, states * width);
  // Outputs flattened: the gates ending at state s are outIds[outStart[s] .. outStart[s + 1]).
  const outStart = new Int32Array(states + 1);
  for (let s = 0; s < states; s++) outStart[s + 1] = outStart[s] + ends[s].length;
  const outIds = new Uint16Array(outStart[states]);
  for (let s = 0; s < states; s++) outIds.set(ends[s], outStart[s]);

  return {
    gates,
    scan(text: string): Uint8Array {
      const found = new Uint8Array(gates.length);
      let s = 0;
      for (let i = 0; i < text.length; i++) {
        s = delta[s * width + column[text.charCodeAt(i)]];
        const from = outStart[s];
        const to = outStart[s + 1];
        for (let k = from; k < to; k++) found[outIds[k]] = 1;
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
