// Generates evals/datasets/router-regression.jsonl: a regression workload for the
// router's cascade and response caches (see evals/datasets/README.md).
//   node evals/datasets/generate-router-regression.mjs [--out path] [--check]
//
// Deterministic: the only randomness is a mulberry32 PRNG with a fixed seed, so
// running it again writes the same bytes. `--check` compares instead of writing
// (exit 1 if the committed file differs).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { mulberry32, shuffled } from '../../tools/seeded-random.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: {
  out: { type: 'string', default: join(HERE, 'router-regression.jsonl') },
  check: { type: 'boolean', default: false },
} });

const SEED = 20261125;
const AGENT = 'assistant';

const rand = mulberry32(SEED);
const between = (lo, hi) => Math.round((lo + rand() * (hi - lo)) * 100) / 100;
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const shuffle = (xs) => shuffled(rand, xs);

// ---------------------------------------------------------------------------
// Questions. Easy: the cheap model answers correctly and confidently (the
// strong model would say the same). Hard: the cheap model's answer is a
// plausible slip (a forgotten step, a missed carve-out) with low confidence;
// the strong model's answer is the expected one.

const EASY = [
  // arithmetic
  ['arith-mul', 'What is 17 × 23?', '17 × 23 = 391.'],
  ['arith-percent', 'What is 15% of 240?', '15% of 240 is 36.'],
  ['arith-div', 'What is 1,000 divided by 8?', '1,000 ÷ 8 = 125.'],
  ['arith-sqrt', 'What is the square root of 144?', 'The square root of 144 is 12.'],
  ['arith-pow', 'What is 2 to the power of 10?', '2^10 = 1024.'],
  ['arith-add', 'What is 48 + 76?', '48 + 76 = 124.'],
  ['arith-factorial', 'What is 7 factorial?', '7! = 5040.'],
  // unit conversions
  ['unit-inch-cm', 'How many centimetres are in 5 inches?', '5 inches = 12.7 cm (1 inch = 2.54 cm).'],
  ['unit-f-c', 'Convert 100 degrees Fahrenheit to Celsius.', '100 °F ≈ 37.8 °C ((100 − 32) × 5/9).'],
  ['unit-marathon', 'How many kilometres is 26.2 miles?', '26.2 miles ≈ 42.2 km (1 mile ≈ 1.609 km).'],
  ['unit-lb-oz', 'How many ounces are in 2 pounds?', '2 pounds = 32 ounces.'],
  ['unit-l-ml', 'Convert 3 litres to millilitres.', '3 litres = 3000 millilitres.'],
  ['unit-h-s', 'How many seconds are in 3 hours?', '3 hours = 10,800 seconds.'],
  ['unit-kg-lb', 'Convert 5 kilograms to pounds.', '5 kg ≈ 11.02 lb.'],
  // capitals
  ['capital-australia', 'What is the capital of Australia?', 'The capital of Australia is Canberra.'],
  ['capital-canada', 'What is the capital of Canada?', 'The capital of Canada is Ottawa.'],
  ['capital-japan', 'What is the capital of Japan?', 'The capital of Japan is Tokyo.'],
  ['capital-brazil', 'What is the capital of Brazil?', 'The capital of Brazil is Brasília.'],
  ['capital-kenya', 'What is the capital of Kenya?', 'The capital of Kenya is Nairobi.'],
  ['capital-norway', 'What is the capital of Norway?', 'The capital of Norway is Oslo.'],
  ['capital-nz', 'What is the capital of New Zealand?', 'The capital of New Zealand is Wellington.'],
  // definitions
  ['def-photosynthesis', 'Define photosynthesis in one sentence.', 'Photosynthesis is the process by which plants, algae and some bacteria use light energy to turn carbon dioxide and water into glucose and oxygen.'],
  ['def-api', 'What does API stand for?', 'API stands for Application Programming Interface.'],
  ['def-idempotent', 'What is an idempotent operation?', 'An idempotent operation has the same effect whether it is performed once or many times, e.g. setting a value (but not incrementing it).'],
  ['def-inflation', 'Define inflation in economics.', 'Inflation is the general rise in the price level of goods and services over time, which reduces the purchasing power of money.'],
  ['def-prime', 'What is a prime number?', 'A prime number is a whole number greater than 1 whose only divisors are 1 and itself, e.g. 2, 3, 5, 7 and 11.'],
  ['def-404', 'What does HTTP status code 404 mean?', 'HTTP 404 Not Found means the server could not find the requested resource; the request itself was valid.'],
];

const HARD = [
  // multi-step reasoning
  ['reason-train',
    'A train leaves at 14:10 and travels 180 km at 72 km/h, then waits 15 minutes at a station, then travels another 60 km at 90 km/h. At what time does it arrive?',
    'It arrives at 17:35: 180 km at 72 km/h takes 2 h 30 min (16:40), the stop adds 15 min (16:55), and 60 km at 90 km/h takes 40 min.',
    'It arrives at 17:20.'],
  ['reason-discount-tax',
    'A shop discounts an $80 jacket by 25%, then adds 8% sales tax on the discounted price. A customer pays with a $100 bill. How much change do they get?',
    'They get $35.20 back: 25% off $80 is $60.00, 8% tax makes it $64.80, and $100 − $64.80 = $35.20.',
    'They get $40.00 back.'],
  ['reason-pipes',
    'Pipe A fills a tank in 6 hours and pipe B fills it in 4 hours, while a drain empties the full tank in 12 hours. With all three open, how long does it take to fill the empty tank?',
    '3 hours: per hour the tank gains 1/6 + 1/4 − 1/12 = 4/12 = 1/3 of its volume.',
    'About 2.4 hours.'],
  ['reason-ages',
    'Alice is older than Bob. Carol is younger than Bob but older than Dan. Eve is older than Alice. Who is the second youngest of the five?',
    'Carol. The order from oldest to youngest is Eve, Alice, Bob, Carol, Dan, so Dan is the youngest and Carol the second youngest.',
    'Bob is the second youngest.'],
  ['reason-compound',
    'I invest $5,000 at 4% per year, compounded annually. How much will I have after 3 years, and how much of that is interest?',
    'After 3 years you have $5,624.32 ($5,000 × 1.04³ = $5,000 × 1.124864), of which $624.32 is interest.',
    'You will have $5,600, of which $600 is interest.'],
  ['reason-meetings',
    'I have three meetings to schedule back to back in one room: A takes 90 minutes, B 45 minutes and C 60 minutes, with a mandatory 15-minute break between consecutive meetings. The room is free from 09:00 to 12:00. Do all three fit, and if I start at 09:00, when does the last one end?',
    'No. The meetings take 195 minutes plus two 15-minute breaks, 225 minutes in all, so starting at 09:00 the last one ends at 12:45, 45 minutes after the room stops being free.',
    'Yes, they fit; the last one ends at 12:00.'],
  // code review
  ['code-off-by-one',
    'Please review this JavaScript function and tell me if anything is wrong:\n\n```js\nfunction orderTotal(items) {\n  let total = 0;\n  for (let i = 0; i <= items.length; i++) {\n    total += items[i].price * items[i].quantity;\n  }\n  return total;\n}\n```',
    'There is an off-by-one bug: the loop runs while i <= items.length, so the last iteration reads items[items.length], which is undefined, and `.price` throws a TypeError. Use i < items.length (or items.reduce((sum, it) => sum + it.price * it.quantity, 0)).',
    'The function looks correct; you could use reduce to make it shorter.'],
  ['code-mutable-default',
    'Code review, Python:\n\n```python\ndef add_tag(tag, tags=[]):\n    tags.append(tag)\n    return tags\n\nprint(add_tag("a"))\nprint(add_tag("b"))\n```\n\nWhy does the second call print both tags?',
    'The default list is created once, when the function is defined, and shared by every call that omits `tags`, so the second call appends to the same list and prints ["a", "b"]. Use `tags=None` and create a new list inside: `if tags is None: tags = []`.',
    'Because append adds to the end of the list; this is expected behaviour.'],
  ['code-sql-concat',
    'Can you review this Node.js data-access code?\n\n```js\nasync function ordersFor(db, customerName) {\n  const sql = "SELECT * FROM orders WHERE customer = \'" + customerName + "\'";\n  return (await db.query(sql)).rows;\n}\n```',
    'The query is built by string concatenation, so a customer name containing a quote can change the SQL (SQL injection) and names with apostrophes simply break it. Use a parameterised query: db.query("SELECT * FROM orders WHERE customer = $1", [customerName]), and select only the columns you need.',
    'Select only the columns you need instead of SELECT *; otherwise it is fine.'],
  ['code-foreach-async',
    'Review this TypeScript snippet:\n\n```ts\nasync function saveAll(items: Item[]) {\n  items.forEach(async (item) => {\n    await repository.save(item);\n  });\n  console.log("all items saved");\n}\n```',
    'forEach ignores the promises the async callback returns, so saveAll logs "all items saved" and resolves before any save has finished, and a failed save becomes an unhandled rejection. Use `for (const item of items) await repository.save(item);` or `await Promise.all(items.map((item) => repository.save(item)));`.',
    'The code is correct: each item is awaited before it is saved.'],
  ['code-java-string-eq',
    'Review this Java method:\n\n```java\nboolean isAdmin(User user) {\n    String role = user.getRole();\n    return role == "admin";\n}\n```',
    '`==` compares object references, not string contents, so a role read from a database or request is usually a different String object and the check returns false. Use "admin".equals(role), which is also null-safe.',
    'It is fine; == compares the two strings.'],
  ['code-float-compare',
    'Why does this Python check print "mismatch"?\n\n```python\ntotal = 0.1 + 0.2\nif total == 0.3:\n    print("match")\nelse:\n    print("mismatch")\n```',
    'Binary floating point cannot represent 0.1, 0.2 or 0.3 exactly, so 0.1 + 0.2 is 0.30000000000000004 and the equality fails. Compare with a tolerance (math.isclose(total, 0.3)) or use decimal.Decimal for money.',
    'Because 0.1 + 0.2 is greater than 0.3 in Python.'],
  // contract clauses
  ['contract-liability-cap',
    'Our contract says: "Except for breaches of Section 9 (Confidentiality) and a party\'s indemnification obligations, neither party\'s aggregate liability under this Agreement shall exceed the fees paid by Customer in the twelve (12) months preceding the claim." The vendor leaked our customer list in breach of Section 9. Is our claim capped at twelve months of fees?',
    'No. Breaches of Section 9 (Confidentiality) are carved out of the cap, so a claim for the vendor\'s leak of your customer list is not limited to twelve months of fees (other limits, such as any exclusion of indirect damages, may still apply).',
    'Yes, the claim is capped at the fees paid in the last twelve months.'],
  ['contract-auto-renewal',
    'Clause: "This Agreement renews automatically for successive one-year terms unless either party gives written notice of non-renewal at least 60 days before the end of the then-current term." The current term runs from 1 March 2024 to 28 February 2025. We sent notice of non-renewal on 15 January 2025. Does the agreement end on 28 February 2025?',
    'No. Notice had to arrive at least 60 days before 28 February 2025, i.e. by 30 December 2024; notice on 15 January 2025 is late, so the agreement renews for another year, to 28 February 2026, and the notice takes effect at the end of that term.',
    'Yes, written notice was given before the term ended, so it ends on 28 February 2025.'],
  ['contract-assignment',
    'Clause: "Neither party may assign this Agreement without the other party\'s prior written consent, except that either party may assign it without consent to a successor in a merger or a sale of all or substantially all of its assets." Our vendor is being acquired by one of our competitors through a merger. Does the vendor need our consent to assign the agreement?',
    'No. The merger exception lets the vendor assign to its successor without your consent, and the clause has no carve-out for competitors; if that is a concern you need a change-of-control termination right elsewhere in the agreement.',
    'Yes, assignment always requires your prior written consent.'],
  ['contract-indemnity',
    'Clause: "Vendor shall defend and indemnify Customer against third-party claims alleging that the Software infringes a patent, copyright or trademark, except claims arising from Customer\'s modification of the Software or its combination with products not supplied by Vendor." A third party claims that our combination of the Software with our own database product infringes its patent. Must the vendor indemnify us?',
    'No. The claim targets the combination of the Software with a product the vendor did not supply, which the clause excludes, so the vendor has no duty to defend or indemnify you for it.',
    'Yes, the vendor must indemnify you for any patent claim about the Software.'],
  ['contract-late-interest',
    'Payment terms: "Invoices are due 30 days after the invoice date. Late amounts bear interest at 1.5% per month, prorated daily on the basis of a 30-day month." An invoice for $12,000 dated 1 April was paid on 15 June. How much interest is owed?',
    '$270. The invoice was due on 1 May and paid 45 days late, i.e. 1.5 months: $12,000 × 1.5% × 1.5 = $270.',
    '$360 (two months at 1.5%).'],
  ['contract-confidentiality-survival',
    'Clause: "The obligations in this Section survive for three (3) years after termination, except that Confidential Information that is a trade secret remains protected for as long as it qualifies as a trade secret under applicable law." The agreement terminated in March 2021. In 2025, may the recipient disclose (a) our customer pricing spreadsheet, which is not a trade secret, and (b) our source code, which is?',
    '(a) Yes: the three-year survival period for ordinary Confidential Information ended in March 2024. (b) No: source code that still qualifies as a trade secret stays protected for as long as it does.',
    'No to both; confidentiality obligations survive termination.'],
];

// ---------------------------------------------------------------------------
// Users and schedule.

const USERS = ['u-ana', 'u-ben', 'u-chen', 'u-dara', 'u-eli', 'u-fatima', 'u-gus', 'u-hana', 'u-ivan', 'u-jo', 'u-kofi', 'u-lena'];
// How many different users ask each question: 12 questions by one user, 15 by two, 12 by three, 6 by four (102 first asks).
const ASKERS = [...Array(12).fill(1), ...Array(15).fill(2), ...Array(12).fill(3), ...Array(6).fill(4)];
const REPEAT_EXACT = 26;
const REPEAT_VARIANT = 22;

const questions = [
  ...EASY.map(([key, input, answer]) => ({
    key, input, level: 'easy',
    turns: { cheap: { content: answer, confidence: between(0.8, 0.97) }, strong: { content: answer, confidence: between(0.9, 0.99) } },
  })),
  ...HARD.map(([key, input, answer, slip]) => ({
    key, input, level: 'hard',
    turns: { cheap: { content: slip, confidence: between(0.35, 0.65) }, strong: { content: answer, confidence: between(0.85, 0.96) } },
  })),
];
const askerCounts = shuffle(ASKERS);

// Trivial re-wordings of the same question by the same user.
const VARIANTS = {
  // Extra spaces and a trailing newline: the exact key collapses whitespace.
  whitespace: (s) => `${s.replace(' ', '  ')}\n`,
  // Lower-case first letter.
  case: (s) => s[0].toLowerCase() + s.slice(1),
  // Every other one: the final "?" or "." dropped; the others (and texts ending in a code block): the first comma or colon after a word
  // dropped, or a space put before the final punctuation when there is no such comma or colon.
  punctuation: (s, n) => (n % 2 === 0 && /[.?]$/.test(s) ? s.slice(0, -1) : /[a-z][,:]/i.test(s) ? s.replace(/([a-z])[,:]/i, '$1') : s.replace(/([.?])$/, ' $1')),
};

const events = [];
for (const [qi, q] of questions.entries()) {
  const askers = shuffle(USERS).slice(0, askerCounts[qi]);
  for (const userId of askers) events.push({ q, userId, kind: 'first-ask', t: rand() * 0.8 });
}
const firstAsks = [...events];
const repeaters = shuffle(firstAsks).slice(0, REPEAT_EXACT + REPEAT_VARIANT);
const variantKinds = Object.keys(VARIANTS);
for (const [i, first] of repeaters.entries()) {
  const exact = i < REPEAT_EXACT;
  // Case changes are not trivial in code (identifiers are case-sensitive): code questions vary by whitespace or punctuation only.
  const kind = exact ? undefined : first.q.key.startsWith('code-') ? pick(['whitespace', 'punctuation']) : variantKinds[i % variantKinds.length];
  events.push({ q: first.q, userId: first.userId, kind: exact ? 'repeat-exact' : 'repeat-variant', variant: kind, t: first.t + 0.02 + rand() * (1 - first.t) });
}
events.sort((a, b) => a.t - b.t);

const askedBy = new Map(); // question key -> number of distinct users
for (const e of firstAsks) askedBy.set(e.q.key, (askedBy.get(e.q.key) ?? 0) + 1);

let punctuationSeen = 0;
const lines = events.map((e, i) => {
  const shared = askedBy.get(e.q.key) > 1;
  const input = e.variant ? VARIANTS[e.variant](e.q.input, e.variant === 'punctuation' ? punctuationSeen++ : 0) : e.q.input;
  const tags = [e.q.level, e.kind, ...(e.variant ? [`variant:${e.variant}`] : []), ...(shared ? ['shared-question'] : []), `q:${e.q.key}`];
  const expected = { output: e.q.level === 'hard' ? e.q.turns.strong.content : e.q.turns.cheap.content };
  return JSON.stringify({ id: `rr-${String(i + 1).padStart(3, '0')}`, input, agent: AGENT, userId: e.userId, tags, expected, turns: e.q.turns });
});
const text = `${lines.join('\n')}\n`;

if (values.check) {
  const current = readFileSync(values.out, 'utf8');
  if (current !== text) {
    console.error(`${values.out} differs from what this script generates; run it without --check`);
    process.exit(1);
  }
  console.log(`${values.out} is up to date (${lines.length} cases)`);
} else {
  writeFileSync(values.out, text);
  const count = (tag) => events.filter((e) => [e.q.level, e.kind, e.variant && `variant:${e.variant}`].includes(tag)).length;
  console.log(`wrote ${lines.length} cases to ${values.out}: ${questions.length} questions (${EASY.length} easy, ${HARD.length} hard), ${USERS.length} users; `
    + `first-ask ${count('first-ask')}, repeat-exact ${count('repeat-exact')}, repeat-variant ${count('repeat-variant')} `
    + `(whitespace ${count('variant:whitespace')}, case ${count('variant:case')}, punctuation ${count('variant:punctuation')}); `
    + `easy ${count('easy')}, hard ${count('hard')}; questions asked by several users: ${[...askedBy.values()].filter((n) => n > 1).length}`);
}
