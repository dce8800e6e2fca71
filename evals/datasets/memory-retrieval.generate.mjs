// Generates evals/datasets/memory-retrieval.jsonl: a labelled set for the
// orchestrator's memory retrieval (bench/memory.bench.mjs prints precision@5,
// recall@5 and MRR on it).
//   node evals/datasets/memory-retrieval.generate.mjs [--out path] [--check]
//
// Deterministic: the only randomness is a mulberry32 PRNG with a fixed seed, so
// running it again writes the same bytes. `--check` compares instead of writing
// (exit 1 if the committed file differs).
//
// Shape (one JSON object per line):
//   {"type":"user","userId":"u-ana","turns":[{"id":1,"conversationId":"c03","role":"user","content":"…"}, …]}
//   {"type":"query","id":"mr-001","userId":"u-ana","query":"…","kind":"lexical","topic":"postgres/autovacuum","relevant":[12,13,57,58]}
// A query is asked against the stored turns of its user only; `relevant` are
// the ids of that user's turns about the query's topic (the four turns of one
// thread: question, answer, follow-up, answer).
//
// Each user has 220 turns: 24 threads (96 turns) from 6 of 9 domains, each
// domain with 4 threads on neighbouring subjects (the hard distractors: same
// vocabulary, other subject), and 62 exchanges of unrelated filler.
// 12 queries per user, 48 in all, of three kinds:
//   - lexical: words of the thread itself ("autovacuum", "orders table");
//   - paraphrase: the same need in other words ("purchases table filling up
//     with deleted rows") — the local n-gram embedding measures surface
//     similarity, so these are expected to do badly, and are here so the
//     figure is honest rather than flattering;
//   - cross-lingual: a lexical query in Spanish or German against English turns
//     (only names and technical terms are shared).
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { mulberry32, shuffled } from '../../tools/seeded-random.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: {
  out: { type: 'string', default: join(HERE, 'memory-retrieval.jsonl') },
  check: { type: 'boolean', default: false },
} });

const SEED = 20261201;

const rand = mulberry32(SEED);
const pick = (xs) => xs[Math.floor(rand() * xs.length)];
const shuffle = (xs) => shuffled(rand, xs);

// ---------------------------------------------------------------------------
// Threads: [key, user question, answer, user follow-up, answer, lexical query, paraphrase query, cross-lingual query?]

const DOMAINS = {
  postgres: [
    ['autovacuum',
      'Autovacuum never seems to finish on the orders table and dead tuples keep piling up.',
      'Lower autovacuum_vacuum_scale_factor for orders to 0.01 and raise autovacuum_vacuum_cost_limit so the worker keeps up.',
      'I set the orders table scale factor to 0.01; autovacuum now runs every few minutes.',
      'Good. Watch n_dead_tup in pg_stat_user_tables for orders over the next day.',
      'what autovacuum setting did we change for the orders table',
      'how did we stop the purchases table from filling up with deleted rows',
      '¿qué configuración de autovacuum cambiamos en la tabla orders?'],
    ['replication-lag',
      'Replica lag on pg-replica-2 jumps to 40 seconds every night around 2am.',
      'The nightly batch writes a lot of WAL; check whether the replica\'s disk or network saturates during the batch window.',
      'The replica-2 lag matched the nightly batch; its network link was capped at 100 Mbit.',
      'Raising the link to 1 Gbit or turning on wal_compression should keep replica lag under a second.',
      'why does pg-replica-2 replication lag spike at night',
      'what made the standby server fall behind the primary after midnight'],
    ['pg-dump',
      'pg_dump of the billing database takes three hours and blocks our deploy window.',
      'Use pg_dump -Fd with -j 4 for a parallel dump, or move billing backups to pgBackRest with incremental backups.',
      'Parallel pg_dump -j 4 cut the billing backup to 50 minutes.',
      'Next step: test a restore of the billing dump on staging so the backup is proven.',
      'how long does the billing database pg_dump take now',
      'how did we make the nightly copy of the invoicing data faster',
      'wie lange dauert jetzt der pg_dump der billing Datenbank?'],
    ['email-index',
      'The customer search query on email is slow, a sequential scan over 12 million rows.',
      'Add an index: CREATE INDEX CONCURRENTLY customers_email_lower ON customers (lower(email)), and query with lower(email).',
      'The lower(email) index is live and customer search dropped from 4 s to 3 ms.',
      'Great; keep the query using lower(email) or the planner will not use the index.',
      'which index did we add for the customer email search',
      'what fixed the sluggish lookup of clients by their mail address'],
  ],
  kubernetes: [
    ['crashloop',
      'The payments-api pod is in CrashLoopBackOff after the 3.2 release.',
      'Check kubectl logs --previous for payments-api; a missing env var or a failing readiness probe is typical.',
      'It was the missing STRIPE_WEBHOOK_SECRET env var in the payments-api deployment.',
      'Add STRIPE_WEBHOOK_SECRET to the sealed secret and make the app fail with a clear message when it is absent.',
      'why was payments-api in CrashLoopBackOff',
      'why did the card-charging service keep restarting after the new version',
      '¿por qué payments-api estaba en CrashLoopBackOff?'],
    ['hpa',
      'The search-service HPA never scales above 3 replicas even at 90% CPU.',
      'Check maxReplicas in the HorizontalPodAutoscaler and whether metrics-server reports CPU for search-service.',
      'maxReplicas was 3 in the search-service HPA; I raised it to 12.',
      'Also set CPU requests on search-service, since HPA percentages are relative to the requests.',
      'what maxReplicas did we set on the search-service HPA',
      'why couldn\'t the lookup backend add more copies under load'],
    ['cert-manager',
      'The TLS certificate for api.example.com expired and cert-manager did not renew it.',
      'cert-manager renews through the ACME HTTP-01 challenge; check the Certificate and Challenge resources for errors.',
      'The HTTP-01 challenge failed because the ingress redirected /.well-known to the login page.',
      'Exclude /.well-known/acme-challenge from the auth redirect in the ingress annotations and delete the failed Challenge.',
      'why did cert-manager fail to renew the api.example.com certificate',
      'why did the https padlock break on our public endpoint',
      'warum hat cert-manager das Zertifikat für api.example.com nicht erneuert?'],
    ['disk-pressure',
      'Node worker-7 shows DiskPressure and evicts pods every afternoon.',
      'Images and logs fill the disk; check the kubelet image garbage collection thresholds and log rotation on worker-7.',
      'On worker-7 the container logs were 80 GB because log rotation was off.',
      'Set containerLogMaxSize to 50Mi and containerLogMaxFiles to 5 in the kubelet config of every node.',
      'what caused DiskPressure on worker-7',
      'why was one machine in the cluster kicking workloads off every afternoon'],
  ],
  travel: [
    ['lisbon-flight',
      'Find flights from Berlin to Lisbon for the conference on 14 May, back on the 18th.',
      'TAP has a direct Berlin to Lisbon flight at 09:40 on 14 May, returning 18 May at 19:05, about 310 euros.',
      'Book the TAP 09:40 to Lisbon with a window seat, please.',
      'Booked: TAP TP 533 Berlin to Lisbon, 14 May 09:40, seat 12A; return TP 536 on 18 May.',
      'which TAP flight to Lisbon did I book',
      'when do I fly to Portugal for the conference',
      '¿qué vuelo de TAP a Lisboa reservé?'],
    ['kyoto-ryokan',
      'Find me a ryokan in Kyoto with a private onsen for two nights in October.',
      'Three options in Kyoto: Hoshinoya in Arashiyama, Yoshida-sanso and Kinmata; Hoshinoya has private baths.',
      'Reserve Hoshinoya Kyoto for 12 to 14 October.',
      'Reservation at Hoshinoya Kyoto confirmed for 12 to 14 October, river-view room, dinner included.',
      'what ryokan in Kyoto did we reserve',
      'where am I staying in Japan in the autumn'],
    ['tgv-strike',
      'There is a rail strike in France on Thursday; my TGV from Paris to Lyon is at 8am.',
      'SNCF usually runs one in three TGVs on strike days; check SNCF Connect the evening before or move to Wednesday.',
      'SNCF cancelled my Thursday TGV to Lyon; can I get a refund?',
      'Yes, SNCF refunds cancelled trains in full; request it in SNCF Connect under My bookings.',
      'is my TGV to Lyon refunded after the SNCF strike',
      'can I get my money back for the cancelled French train trip',
      'bekomme ich das Geld für den TGV nach Lyon nach dem SNCF Streik zurück?'],
    ['passport',
      'My passport expires in March; how long does renewal take in Germany?',
      'The Bürgeramt issues a new Reisepass in about 4 to 6 weeks; an express passport takes about 3 working days for a higher fee.',
      'I booked the Bürgeramt appointment for the passport on 9 January.',
      'Bring the old passport, a biometric photo and about 70 euros for the Reisepass.',
      'when is my Bürgeramt passport appointment',
      'when do I go to the city office about my travel document'],
  ],
  cooking: [
    ['sourdough',
      'My sourdough bread comes out flat and dense.',
      'Usually the starter is weak or the dough overproofed; feed the starter twice and shorten bulk fermentation.',
      'With a stronger starter and 4 hours of bulk fermentation the sourdough rose much better.',
      'Next try a cold overnight proof in the fridge for a more open crumb.',
      'how did we fix the flat sourdough',
      'why was my homemade loaf not rising',
      '¿cómo arreglamos el sourdough que salía plano?'],
    ['lasagne',
      'I am cooking lasagne for 12 people on Saturday; how much pasta and ragù do I need?',
      'For 12 people plan two trays: about 1 kg of lasagne sheets, 2 kg of ragù and 1.5 litres of béchamel.',
      'Can the lasagne be assembled on Friday and baked on Saturday?',
      'Yes, assemble the lasagne on Friday, keep it covered in the fridge, and bake it 60 minutes at 180 °C on Saturday.',
      'how much ragù for the lasagne for 12 people',
      'quantities for the big Italian pasta bake for the party'],
    ['chickpea-curry',
      'Give me a vegan chickpea curry without coconut milk.',
      'Chickpea curry: onion, garlic, ginger, tomatoes, garam masala, chickpeas, and cashew cream instead of coconut milk.',
      'The chickpea curry was too spicy for the kids.',
      'Halve the chilli and stir in more cashew cream at the table.',
      'chickpea curry without coconut milk recipe',
      'the plant-based legume dish that was too hot for the children'],
    ['whetstone',
      'What whetstone grit should I use for my Japanese chef\'s knife?',
      'A 1000 grit whetstone for sharpening and a 6000 grit stone for polishing; keep a 15 degree angle.',
      'I bought the 1000/6000 combination whetstone.',
      'Soak the 1000 side for ten minutes; the 6000 side only needs splashing.',
      'which whetstone grit for the Japanese knife',
      'how do I get my kitchen blade keen again',
      'welche Körnung brauche ich beim Schleifstein für das japanische Messer?'],
  ],
  finance: [
    ['tax-return',
      'When is the deadline for my German tax return for 2025?',
      'Without a tax adviser the 2025 Steuererklärung is due on 31 July 2026; with an adviser, later.',
      'I submitted the Steuererklärung through ELSTER yesterday.',
      'Keep the ELSTER transmission protocol; the Finanzamt assessment usually arrives within two months.',
      'when did I submit the Steuererklärung through ELSTER',
      'did I already send the yearly income declaration to the authorities'],
    ['etf-plan',
      'I want a monthly ETF savings plan of 300 euros; which index?',
      'A broad MSCI World or FTSE All-World ETF with a low TER is a common choice for a 300 euro monthly plan.',
      'I opened the FTSE All-World ETF plan at 300 euros a month.',
      'Set the execution date after payday and file a Freistellungsauftrag for the 1000 euro allowance.',
      'which ETF savings plan did I open',
      'what index fund do I put money into each month',
      '¿qué plan de ahorro en ETF abrí?'],
    ['mortgage',
      'Compare a 10 year and a 15 year fixed mortgage for 350,000 euros.',
      'At 3.4% for 10 years the monthly rate is about 1,650 euros; 15 years fixed costs about 0.3 points more but removes refinancing risk.',
      'The bank offered 3.6% fixed for 15 years on the 350,000 mortgage.',
      'That is in line with the market; ask for free special repayments of 5% a year before signing.',
      'what rate did the bank offer for the 15 year mortgage',
      'what did the lender quote on the home loan'],
    ['concur-receipt',
      'How do I file travel expenses for the Lisbon conference with the company?',
      'Upload the receipts to Concur within 30 days; flights, hotel and a per diem of 49 euros a day are covered.',
      'Concur rejected my hotel receipt because it was not itemised.',
      'Ask the hotel for an itemised invoice with your name, or attach a missing-receipt declaration in Concur.',
      'why did Concur reject my hotel receipt',
      'why was my reimbursement claim for the accommodation refused',
      'warum hat Concur meine Hotelquittung abgelehnt?'],
  ],
  react: [
    ['useeffect-loop',
      'My React component re-renders forever because of a useEffect.',
      'The effect updates state that is in its own dependency array; remove it or compare before setting state.',
      'The useEffect depended on the filters object, which is recreated on every render.',
      'Wrap filters in useMemo, or depend on its primitive fields instead of the object.',
      'why did the useEffect re-render forever',
      'why did the UI component keep refreshing endlessly',
      '¿por qué el useEffect volvía a renderizar sin parar?'],
    ['bundle-size',
      'Our webpack bundle is 4 MB and the dashboard loads slowly.',
      'Run webpack-bundle-analyzer; moment.js locales and lodash are common culprits; lazy-load routes with React.lazy.',
      'Removing the moment locales and lazy loading the charts route cut the bundle to 1.3 MB.',
      'Also enable brotli on the CDN; 1.3 MB compresses to about 350 kB.',
      'how did we shrink the webpack bundle',
      'what made the admin page download less JavaScript'],
    ['css-grid',
      'How do I make a responsive card grid with CSS grid?',
      'Use grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)) with a gap of 1rem.',
      'The cards in the grid have different heights.',
      'Grid rows stretch by default; make each card a flex column so its footer sticks to the bottom.',
      'responsive card grid with grid-template-columns',
      'laying out the tiles so they wrap nicely on phones'],
    ['modal-a11y',
      'Our modal dialog fails the accessibility audit.',
      'Use role=dialog with aria-modal, move focus into the modal on open, trap focus, and return focus on close.',
      'Screen readers still read the page behind the modal.',
      'Set the inert attribute on the rest of the page while the modal is open.',
      'modal dialog accessibility audit aria-modal',
      'blind users could hear content behind the popup',
      'der Modal Dialog fällt beim Accessibility Audit durch, was tun?'],
  ],
  fitness: [
    ['marathon',
      'I\'m training for the Berlin marathon in September; what weekly mileage should I build to?',
      'For a first marathon build to about 55 to 65 km a week with one long run up to 32 km, three weeks before race day.',
      'My long run reached 28 km last Sunday without problems.',
      'Good; do 30 and 32 km in the next two long runs, then taper for three weeks before the marathon.',
      'how long should my marathon long runs get',
      'how far should I go on my longest training jog before the big race',
      '¿cuánto deben durar las tiradas largas para el maratón?'],
    ['it-band',
      'My right knee hurts on the outside after running downhill.',
      'Outer knee pain after downhill running is often IT band syndrome; reduce downhill running and strengthen the hips.',
      'The physio confirmed IT band syndrome and gave me hip exercises.',
      'Do the clamshells and side planks daily and foam-roll the outer thigh; return to hills gradually.',
      'what did the physio say about the IT band',
      'the ache at the side of my leg joint after hills'],
    ['sleep',
      'I keep waking up at 4am and cannot fall asleep again.',
      'Keep a fixed wake time, no screens an hour before bed, and no caffeine after noon; if it persists, ask a doctor about CBT-I.',
      'No caffeine after noon helped; I wake at 4am only once a week now.',
      'Keep the routine for another month; waking early once a week is within the normal range.',
      'waking up at 4am and caffeine',
      'my problem of getting up too early in the night'],
    ['vitamin-d',
      'My blood test shows vitamin D at 18 ng/ml.',
      '18 ng/ml is insufficient; doctors often recommend 1000 to 2000 IU of vitamin D3 daily in winter and a retest after three months.',
      'The doctor prescribed 2000 IU of vitamin D3 daily.',
      'Take the vitamin D3 with a meal that contains fat; retest in spring.',
      'vitamin D3 dose the doctor prescribed',
      'which supplement did the GP tell me to take for my low levels',
      'welche Dosis Vitamin D3 hat der Arzt verschrieben?'],
  ],
  home: [
    ['tap',
      'The kitchen tap drips even when it is closed tight.',
      'A dripping mixer tap usually needs a new ceramic cartridge; turn off the water under the sink first.',
      'I replaced the tap cartridge but it still drips at the base.',
      'A leak at the base means worn O-rings on the spout; replace them and add silicone grease.',
      'kitchen tap still drips after the new cartridge',
      'water keeps coming from the sink faucet'],
    ['mould',
      'There is black mould in the bathroom corner above the shower.',
      'Clean it with an alcohol based mould remover and ventilate after every shower; mould that returns points to a cold bridge.',
      'The mould came back after two weeks in the same bathroom corner.',
      'Ask the landlord to check the exterior wall for a cold bridge and run a dehumidifier meanwhile.',
      'black mould in the bathroom came back',
      'the dark fungus spots near the shower returned',
      'der schwarze Schimmel im Badezimmer ist zurück'],
    ['wifi',
      'The wifi is weak in the home office on the second floor.',
      'A mesh system or a Fritz!Repeater on the stairs usually fixes coverage on another floor.',
      'I installed a Fritz!Repeater 1200 on the stairs; the office now gets 300 Mbit.',
      'Use the LAN bridge mode of the Fritz!Repeater if you can run a cable; it doubles the throughput.',
      'Fritz!Repeater for the home office wifi',
      'how did I get better internet upstairs where I work'],
    ['paint',
      'How much paint do I need for a 4 by 5 metre living room with 2.6 m ceilings?',
      'The walls are about 47 square metres; at 8 square metres per litre per coat, two coats need about 12 litres.',
      'I bought 12.5 litres of Alpina white for the living room.',
      'Tape the skirting boards and the ceiling edge, and cut in with a brush before rolling the living room walls.',
      'how many litres of paint for the living room',
      'how much colour do I need to redo the lounge walls',
      '¿cuántos litros de pintura para el living room?'],
  ],
  career: [
    ['offer',
      'I got an offer from Zalando for a senior engineer role at 85,000 euros.',
      'Market data for senior engineers in Berlin is 85 to 100k; counter at 95,000 with your Kubernetes experience as the reason.',
      'Zalando came back with 92,000 and a 3,000 signing bonus.',
      'That is a solid offer; ask for it in writing, with the start date, before you resign.',
      'what did Zalando offer after the negotiation',
      'how much the online fashion retailer agreed to pay me',
      '¿qué ofreció Zalando después de la negociación?'],
    ['review',
      'Help me write my self-review for the annual performance review.',
      'Structure the self-review as impact, examples with numbers, and growth areas; mention the database migration you led.',
      'My manager rated my performance review as exceeds expectations.',
      'Congratulations; use the review to ask about the promotion path to staff engineer.',
      'rating in my annual performance review',
      'how did my boss evaluate me this year'],
    ['talk',
      'I want to submit a talk about Postgres queues to PGConf.EU.',
      'A good CFP abstract states the problem, what the audience learns, and your credentials in 150 words.',
      'My PGConf.EU talk on Postgres queues was accepted.',
      'Congratulations; the PGConf.EU slides are due two weeks before the conference, so plan rehearsals.',
      'PGConf.EU talk about Postgres queues accepted',
      'was my presentation proposal to the European database event approved'],
    ['remote',
      'My company wants everyone back in the office four days a week.',
      'Check your contract for a workplace clause; a documented remote arrangement may be enforceable.',
      'HR agreed that I can stay remote three days a week.',
      'Ask HR to confirm the three remote days in a contract addendum.',
      'how many remote days did HR agree to',
      'what did personnel decide about working from home',
      'wie viele Tage Homeoffice hat HR mir zugestanden?'],
  ],
};

// ---------------------------------------------------------------------------
// Filler: everyday requests with nothing to do with any thread.

const FILLER = [
  [(w) => `Translate "${w.phrase}" into ${w.lang}.`, (w) => `In ${w.lang} you would say it like this, with a friendly tone.`],
  [(w) => `Write a short birthday message for my friend ${w.name}.`, (w) => `Happy birthday, ${w.name}! Wishing you a wonderful year full of good surprises.`],
  [(w) => `What is a good name for a ${w.pet}?`, (w) => `For a ${w.pet}, names like Pepper, Miso or Biscuit are popular and easy to call.`],
  [(w) => `Summarise the plot of ${w.book} in two sentences.`, (w) => `${w.book} follows its hero through loss and change; in the end the hero finds a way home.`],
  [(w) => `Give me three ideas for a ${w.occasion} gift under 30 euros.`, (w) => `For a ${w.occasion}: a nice notebook, a plant in a ceramic pot, or a box of good chocolate.`],
  [(w) => `Is ${w.number} a prime number?`, (w) => `${w.number} is ${isPrime(w.number) ? 'a prime number' : 'not a prime number'}.`],
  [(w) => `Rewrite this sentence more politely: "${w.rude}"`, () => 'Here is a more polite version: "Could you please take a look when you have a moment?"'],
  [(w) => `What's the difference between ${w.pair[0]} and ${w.pair[1]}?`, (w) => `${w.pair[0]} and ${w.pair[1]} are often confused; the main difference is how they are used in everyday speech.`],
  [(w) => `Recommend a board game for ${w.players} players.`, (w) => `For ${w.players} players, try Ticket to Ride or Codenames; both are quick to learn.`],
  [(w) => `How do you pronounce "${w.word}"?`, (w) => `"${w.word}" is usually pronounced with the stress on the first syllable.`],
  [() => 'Thanks, that was helpful!', () => 'You are welcome, glad it helped.'],
  [(w) => `Tell me a fun fact about ${w.animal}.`, (w) => `A fun fact about ${w.animal}: they can recognise individual faces.`],
  [(w) => `Draft a two-line out-of-office reply until ${w.date}.`, (w) => `I am out of the office until ${w.date} with limited access to email. For urgent matters, please contact the team inbox.`],
  [(w) => `Which song should I play at a ${w.occasion}?`, () => 'Something upbeat and familiar works best; "September" by Earth, Wind & Fire rarely fails.'],
  [(w) => `Explain the word "${w.word}" to a ten year old.`, (w) => `"${w.word}" is a word grown-ups use for something simple, explained with an example from school.`],
  [(w) => `Make a packing list for a weekend of ${w.activity}.`, (w) => `For a weekend of ${w.activity}: comfortable clothes, a water bottle, snacks, a charger and a small first-aid kit.`],
];
const SLOTS = {
  phrase: ['see you tomorrow', 'good luck with the exam', 'where is the station', 'thank you for dinner', 'happy new year'],
  lang: ['Italian', 'Dutch', 'Polish', 'Swedish', 'Greek'],
  name: ['Mira', 'Tomás', 'Ines', 'Oskar', 'Leila', 'Jonah'],
  pet: ['hamster', 'parrot', 'kitten', 'rabbit', 'goldfish'],
  book: ['The Hobbit', 'Moby Dick', 'Pride and Prejudice', 'The Little Prince', 'Dune'],
  occasion: ['housewarming', 'retirement party', 'graduation', 'baby shower', 'wedding anniversary'],
  number: [91, 97, 119, 127, 221, 229],
  rude: ['Fix this now.', 'Why is this still not done?', 'Read my email again.'],
  pair: [['affect', 'effect'], ['who', 'whom'], ['fewer', 'less'], ['lie', 'lay'], ['historic', 'historical']],
  players: [2, 3, 5, 6],
  word: ['quinoa', 'gnocchi', 'worcestershire', 'ubiquitous', 'onomatopoeia'],
  animal: ['crows', 'octopuses', 'sheep', 'bees', 'elephants'],
  date: ['3 March', '21 April', '2 September', '15 November'],
  activity: ['hiking', 'camping', 'city sightseeing', 'skiing'],
};
function isPrime(n) {
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return n > 1;
}
const fill = () => Object.fromEntries(Object.entries(SLOTS).map(([k, xs]) => [k, pick(xs)]));

// ---------------------------------------------------------------------------

const USERS = ['u-ana', 'u-bo', 'u-chen', 'u-dara'];
const DOMAINS_PER_USER = 6;
const FILLER_EXCHANGES = 62;
const CONVERSATIONS = 12;
const QUERIES = { lexical: 7, paraphrase: 4, 'cross-lingual': 1 };

const lines = [];
let queryNo = 0;
for (const userId of USERS) {
  const domains = shuffle(Object.keys(DOMAINS)).slice(0, DOMAINS_PER_USER).sort();
  const threads = domains.flatMap((d) => DOMAINS[d].map(([key, q1, a1, q2, a2, lexical, paraphrase, crossLingual]) => ({
    topic: `${d}/${key}`, first: [q1, a1], second: [q2, a2], lexical, paraphrase, crossLingual,
  })));
  // Events in time order: each thread's first exchange before its follow-up (often in another conversation), filler between.
  const slots = shuffle([...threads.flatMap((t) => [{ t, part: 'first' }, { t, part: 'second' }]), ...Array.from({ length: FILLER_EXCHANGES }, () => ({ filler: true }))]);
  const seen = new Set();
  const events = [];
  for (const s of slots) {
    if (s.filler) events.push(s);
    // Whichever of a thread's two slots comes first takes its first exchange.
    else if (!seen.has(s.t)) { seen.add(s.t); events.push({ t: s.t, part: 'first' }); }
    else events.push({ t: s.t, part: 'second' });
  }
  const turns = [];
  const relevant = new Map(threads.map((t) => [t, []]));
  const conv = () => `c${String(1 + Math.floor(rand() * CONVERSATIONS)).padStart(2, '0')}`;
  for (const e of events) {
    const conversationId = conv();
    let pair;
    if (e.filler) {
      const [u, a] = pick(FILLER);
      const w = fill();
      pair = [u(w), a(w)];
    } else {
      pair = e.t[e.part];
    }
    for (const [i, content] of pair.entries()) {
      const id = turns.length + 1;
      turns.push({ id, conversationId, role: i === 0 ? 'user' : 'assistant', content });
      if (!e.filler) relevant.get(e.t).push(id);
    }
  }
  lines.push({ type: 'user', userId, turns });
  // Queries: distinct threads per user; the cross-lingual one from threads that have a translation.
  const order = shuffle(threads);
  const used = new Set();
  const take = (n, ok) => {
    const out = [];
    for (const t of order) if (out.length < n && !used.has(t) && ok(t)) { used.add(t); out.push(t); }
    return out;
  };
  const chosen = [
    ...take(QUERIES['cross-lingual'], (t) => t.crossLingual !== undefined).map((t) => ({ t, kind: 'cross-lingual', query: t.crossLingual })),
    ...take(QUERIES.lexical, () => true).map((t) => ({ t, kind: 'lexical', query: t.lexical })),
    ...take(QUERIES.paraphrase, () => true).map((t) => ({ t, kind: 'paraphrase', query: t.paraphrase })),
  ];
  for (const c of shuffle(chosen)) {
    queryNo++;
    lines.push({ type: 'query', id: `mr-${String(queryNo).padStart(3, '0')}`, userId, query: c.query, kind: c.kind, topic: c.t.topic, relevant: relevant.get(c.t) });
  }
}

const text = `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`;
if (values.check) {
  let committed = '';
  try {
    committed = readFileSync(values.out, 'utf8');
  } catch {
    // missing: differs
  }
  if (committed !== text) {
    console.error(`${values.out} differs from what the generator writes; run: node evals/datasets/memory-retrieval.generate.mjs`);
    process.exit(1);
  }
  console.log(`${values.out} is up to date (${lines.filter((l) => l.type === 'query').length} queries)`);
} else {
  writeFileSync(values.out, text);
  const users = lines.filter((l) => l.type === 'user');
  const queries = lines.filter((l) => l.type === 'query');
  const kinds = queries.reduce((m, q) => ({ ...m, [q.kind]: (m[q.kind] ?? 0) + 1 }), {});
  console.log(`wrote ${values.out}: ${users.length} users (${users.map((u) => u.turns.length).join(', ')} turns), ${queries.length} queries ${JSON.stringify(kinds)}`);
}
