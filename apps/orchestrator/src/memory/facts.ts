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
  String.raw`i(?:'m|\s+am)\s+(?:a|an|the|from|based|allergic|vegetarian|vegan|working|called|\d)`,
  String.raw`i\s+(?:prefer|like|love|hate|dislike|live|work|use|need|want|always|never|speak)\b`,
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

const QUESTION = /[?？]\s*$|^(?:what|who|where|when|why|how|do|does|did|is|are|can|could|would|should|qué|cómo|wie|was|wo|что|как|где|什么|怎么|吗)\b/iu;
const MAX_FACT_CHARS = 300;

/** The sentences of a user turn that state a fact about the user, trimmed and de-duplicated, in order. */
export function extractFacts(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split(/(?<=[.!?。！？\n])\s*/u)) {
    const sentence = raw.replace(/\s+/g, ' ').trim();
    if (sentence.length < 6 || sentence.length > MAX_FACT_CHARS) continue;
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
