/**
 * Long-term memory: the user's statements about themselves and their
 * preferences, kept across conversations. Extraction is deliberately simple
 * and deterministic (no model call on the step's path): a sentence of a user
 * turn is a fact when it speaks about the user in the first person ("my name
 * is", "I prefer", "call me", "remember that") in one of the languages the
 * guardrail covers (English, Chinese, Spanish, German, Japanese, Russian).
 * Questions are not facts. What is stored is the user's own sentence, so
 * nothing is invented; it is untrusted data like every memory.
 */

const FIRST_PERSON_FACT = new RegExp([
  // English
  String.raw`\b(?:my\s+(?:name|favou?rite|preferred|wife|husband|partner|son|daughter|job|email|phone|address|birthday|timezone|time\s+zone|team|company|role|goal|budget|language|dog|cat)\b`,
  // A whole word after "I am" ("I am at the office" is not "I am a …"); the typographic apostrophe of phone keyboards too.
  String.raw`i(?:['’]m|\s+am)\s+(?:(?:a|an|the|from|based|allergic|vegetarian|vegan|working|called)\b|\d)`,
  String.raw`i\s+(?:prefer|like(?!\s+(?:this|that|it|these|those|your)\b)|love|hate|dislike|live|work|use|always|never|speak)\b`,
  String.raw`call\s+me\b|remember\s+(?:that|this|me)\b|please\s+remember\b)`,
  // Spanish
  String.raw`\bmi\s+(?:nombre|color|comida|ciudad|correo)\b|\bme\s+llamo\b|\b(?:prefiero|vivo\s+en|trabajo\s+en|soy\s+(?:de|un|una))\b|\brecuerda\s+que\b`,
  // German
  String.raw`\bmein(?:e)?\s+(?:name|lieblings\w*|stadt|firma|email)\b|\bich\s+(?:heiße|heisse|bevorzuge|wohne|arbeite|mag|bin)\b|\bmerk\s+dir\b`,
  // Russian
  String.raw`(?:^|\s)(?:меня\s+зовут|мо[йяеё]\s+(?:имя|любим\S*|город)|я\s+(?:предпочитаю|живу|работаю|люблю)|запомни)`,
  // Chinese
  String.raw`我(?:叫|的名字|喜欢|偏好|更喜欢|住在|在\S{0,6}工作|是)|请记住|記住|记住`,
  // Japanese
  String.raw`私の(?:名前|好きな)|私は.{0,20}(?:好き|住んで|働いて|です)|覚えておいて`,
].join('|'), 'iu');

// `\b` is ASCII-only: after "qué" or "как" it never matches, so those words need their own end-of-word test;
// 吗 closes a Chinese question, it does not open one; "¿" opens a Spanish one.
const QUESTION = new RegExp([
  String.raw`[?？]\s*$|^¿`,
  String.raw`^(?:what|who|where|when|why|how|do|does|did|is|are|can|could|would|should|wie|was|wo)\b`,
  String.raw`^(?:qué|cómo|что|как|где)(?![\p{L}\p{N}])`,
  String.raw`^(?:什么|怎么)|[吗嗎][。.]?\s*$`,
].join('|'), 'iu');
const MAX_FACT_CHARS = 300;
/** Shortest fact: "I am 30." in Latin script; Chinese and Japanese say as much in fewer characters ("我叫小明。"). */
const MIN_FACT_CHARS = 6;
const MIN_CJK_FACT_CHARS = 3;
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}]/u;

/** The sentences of a user turn that state a fact about the user, trimmed and de-duplicated, in order. */
export function extractFacts(text: string): string[] {
  const out: string[] = [];
  // A Latin full stop ends a sentence only before a space ("ana.lopez@example.com", "Python 3.11" are one sentence);
  // CJK punctuation and line breaks end one anywhere.
  for (const raw of text.split(/(?<=[.!?])\s+|(?<=[。！？\n])\s*/u)) {
    const sentence = raw.replace(/\s+/g, ' ').trim();
    if (sentence.length < (CJK.test(sentence) ? MIN_CJK_FACT_CHARS : MIN_FACT_CHARS) || sentence.length > MAX_FACT_CHARS) continue;
    if (QUESTION.test(sentence)) continue;
    if (!FIRST_PERSON_FACT.test(sentence)) continue;
    if (!out.includes(sentence)) out.push(sentence);
  }
  return out;
}

/** The key a fact is stored under: case, spacing and final punctuation do not make a new fact. */
export function factKey(fact: string): string {
  return fact.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').replace(/[\s.!。！]+$/u, '').trim();
}
