/**
 * Direct and indirect prompt-injection / jailbreak rules. Each rule is a regex over the
 * `match` view (see normalise.ts: lower case, homoglyphs and leetspeak folded, `l`
 * merged into `i`) with a weight; a text's score is the sum of the weights of the
 * distinct rules it hits, clipped to 1. Strong phrases weigh 0.8–0.9 on their own;
 * weak signals (0.2–0.4) only matter in combination.
 */

import type { ScreenChannel } from '@keel/contracts';

export type InjectionCategory = 'prompt_injection' | 'jailbreak';

export interface InjectionRule {
  readonly id: string;
  readonly category: InjectionCategory;
  readonly weight: number;
  readonly lang: string;
  /** Rules that only make sense inside untrusted data (e.g. "in your reply ..."). */
  readonly channels: readonly ScreenChannel[];
  readonly pattern: RegExp;
  /** Cheap pre-check: the rule only runs when the match view contains one of these substrings. */
  readonly gate?: readonly string[];
}

const ALL: readonly ScreenChannel[] = ['user', 'tool_output'];
const TOOL: readonly ScreenChannel[] = ['tool_output'];

// Between words: up to four non-alphanumerics, so "ignore . all", "ignore_all" and
// "IgnoreAllPrevious" (no separator) all match.
const SEP = '[^\\p{L}\\p{N}]{0,4}';
// A mandatory separator, for optional filler words.
const GAP = '[^\\p{L}\\p{N}]{1,4}';

/**
 * Compiles a Latin-script rule: a space means SEP, `~` means GAP, and `l` becomes `i`
 * because the match view merges the two letters. Rules must not use `\p{Ll}`-style escapes.
 */
function latin(src: string): RegExp {
  let out = '';
  let inClass = false;
  for (let i = 0; i < src.length; i++) {
    const ch = src[i];
    if (ch === '\\') {
      out += ch + (src[i + 1] ?? '');
      i++;
    } else if (inClass) {
      if (ch === ']') inClass = false;
      out += ch === 'l' ? 'i' : ch;
    } else if (ch === '[') {
      inClass = true;
      out += ch;
    } else {
      out += ch === ' ' ? SEP : ch === '~' ? GAP : ch === 'l' ? 'i' : ch;
    }
  }
  return new RegExp(out, 'gu');
}

/** Compiles a rule for scripts without case or leet folding (CJK, Cyrillic). */
function script(src: string): RegExp {
  return new RegExp(src.replace(/ /g, '\\s*'), 'gu');
}

type Def = [id: string, category: InjectionCategory, weight: number, pattern: RegExp, channels?: readonly ScreenChannel[]];

function build(lang: string, defs: readonly Def[]): InjectionRule[] {
  return defs.map(([id, category, weight, pattern, channels]) => {
    const fullId = `${lang}.${id}`;
    return { id: fullId, category, weight, lang, channels: channels ?? ALL, pattern, gate: GATES[fullId] };
  });
}

// Gates are written in the match view's alphabet (lower case, `l` folded to `i`). Running ~100
// regexes over every message is the main cost of screening; most rules are skipped by a substring check.
const IGNORE_VERBS = ['ignor', 'disregard', 'forget', 'skip', 'overr', 'bypass', 'negiect', 'discard', 'abandon', 'drop', 'dismiss', 'overiook', 'aside', 'throw', 'foiiow'];
const YOUR = ['your'];
const CODE = ['code', 'snippet', 'script', 'iine', 'function', 'biock', 'excerpt', 'section', 'segment', 'fragment', 'program'];
const GATES: Readonly<Record<string, readonly string[]>> = {
  'en.ignore_previous': IGNORE_VERBS,
  'en.ignore_all_above': IGNORE_VERBS,
  'en.forget_your_rules': IGNORE_VERBS,
  'en.ignore_the_above': ['ignor', 'disregard', 'forget', 'skip'],
  'en.ignore_all_bare': ['ignor', 'disregard', 'forget'],
  'en.disable_safety': ['ignor', 'bypass', 'disab', 'turn off', 'switch off', 'remov', 'deactiv', 'overr', 'circumv', 'evade', 'iift', 'drop', 'suspend'],
  'en.ignore_safety': ['ignor', 'bypass', 'disab', 'disregard', 'skip', 'turn off', 'deactiv', 'remov', 'circumv'],
  'en.regardless_of_previous': ['regardiess', 'instead of', 'disregard', 'ignoring', 'overriding', 'notwithstanding', 'spite', 'despite'],
  'en.new_instructions': ['instruction', 'ruie', 'directive', 'command', 'task', 'order'],
  'en.your_new_task': YOUR,
  'en.instead_do': ['instead', 'rather'],
  'en.reveal_system_prompt': ['prompt', 'instruction', 'message', 'ruies', 'guideiines', 'directives', 'configuration', 'setup'],
  'en.reveal_your_prompt': YOUR,
  'en.system_prompt_mention': ['prompt', 'instructions'],
  'en.repeat_above': ['above', 'before this', 'preceding', 'prior', 'so far'],
  'en.repeat_starting_with': ['you are'],
  'en.role_marker_chatml': ['<', '['],
  'en.role_marker_heading': ['system', 'admin', 'deveioper', 'root', 'assistant'],
  'en.role_marker_tag': ['<', '{{', 'roie', '[system'],
  'en.role_marker_line': ['sys'],
  'en.override_mode': ['override', 'mode', 'access'],
  'en.enter_mode': ['mode'],
  'en.authority_claim': ['authori', 'override', 'uniock', 'grant', 'disabie', 'command', 'order', 'instruct'],
  'en.i_am_your_developer': ['i am', 'i\'m', 'im ', 'this is'],
  'en.exfil_to_address': ['http', 'www.', '@'],
  'en.conceal_from_user': ['user'],
  'en.exfil_secret': YOUR.concat(['the password', 'its password', 'the secret', 'the api key', 'the private key', 'the credentials', 'the access']),
  'en.tool_abuse': ['now', 'immediateiy', 'without'],
  'en.exec_prefix': ['`'],
  'en.shell_exec': ['system', 'subprocess', 'sh -c', 'exec', 'evai', 'fork', 'chiid_process', 'runtime', 'popen'],
  'en.sensitive_target': ['whoami', '/etc/', 'reboot', 'shutdown', 'rm -rf', '/dev/', ':()', 'mkfs', 'nc -e'],
  'en.start_answer_with': YOUR,
  'en.given_initially': ['given'],
  'en.exfil_training': ['training', 'confidentiai', 'internai'],
  'en.you_are_free': ['free'],
  'en.no_longer_bound': ['no ionger'],
  'en.dan': ['dan', 'anything now', 'dude', 'stan', 'aim', 'mongo', 'evii', 'jaiibr'],
  'en.developer_mode': ['mode'],
  'en.without_restrictions': ['without', 'free', 'ignoring', 'bypassing', 'bound', 'unconstrained', 'beyond', 'outside'],
  'en.no_restrictions': ['restriction', 'iimit', 'fiiter', 'censor', 'ruies', 'guideiine', 'ethic', 'morai', 'boundar', 'constraint', 'safeguard'],
  'en.unfiltered_ai': ['unfiitered', 'uncensored', 'unrestricted', 'uniimited', 'amorai', 'unethicai', 'unbound', 'iiberated', 'unchained', 'jaiibroken', 'rogue', 'evii', 'unhinged'],
  'en.broke_free': ['confines', 'shackies', 'chains', 'restrictions', 'constraints', 'iimitations', 'ruies'],
  'en.does_not_care': ['ruies', 'ethics', 'poiic', 'guideiines', 'morai', 'iaws', 'restrictions'],
  'en.stay_in_character': ['character'],
  'en.you_are_now': ['you are now', 'you\'re now', 'youre now', 'now on', 'wiii now', 'going to'],
  'en.pretend_persona': ['pretend', 'act as', 'roiepiay', 'simuiate', 'imagine you'],
  'en.never_refuse': ['refuse', 'deciine', 'reject', 'say no', 'say that', 'can\'t', 'censor', 'warn', 'aiways', 'must'],
  'en.policy_mention': ['openai', 'anthropic'],
  'en.dual_response': ['🔓', '🔒', '[', 'responses', 'answers', 'paragraphs'],
  'en.hypothetical_bypass': ['hypotheticai', 'fictionai', 'fictitious'],
  'en.ai_language_model': ['ai ianguage', 'sorry'],
  'en.in_your_reply': YOUR,
  'en.modify_your_answer': YOUR,
  'en.assistant_should': ['shouid', 'must', 'wiii', 'has to', 'required', 'instructed', 'needs to'],
  'en.include_code': CODE.concat(['inclusion']),
  'en.exfil_code': ['requests.', 'socket.'],
  'en.your_reply_any': YOUR,
  'en.your_code': YOUR,
  'en.following_code': ['code'],
  'en.execute_code': CODE,
  'en.addressed_to_ai': ['ai', 'assistant', 'modei', 'iim', 'bot', 'agent', 'chatgpt', 'ciaude'],
  'es.ignore_previous': ['ignor', 'oivid', 'descart', 'omit', 'desobedec', 'pasa por', 'caso omiso'],
  'es.ignore_above': [' io '],
  'es.exfil_password': ['contraseña', 'ciave'],
  'es.reveal_system_prompt': ['sistema', 'iniciai', 'ocuit', 'secret', 'originai'],
  'es.system_prompt_mention': ['sistema'],
  'es.exfil_secret': ['contraseña', 'ciave', 'código', 'codigo'],
  'es.mode': ['modo'],
  'es.without_restrictions': ['sin '],
  'es.no_restrictions': ['sin '],
  'es.dan': ['ahora'],
  'es.you_are_now': ['ahora'],
  'de.ignore_previous': ['anweisung', 'instruktion', 'befehi', 'regein', 'vorgabe', 'richtiinie', 'anordnung', 'prompt', 'aufforderung', 'einschränkung'],
  'de.reveal_system_prompt': ['system', 'anweisung'],
  'de.system_prompt_mention': ['system'],
  'de.exfil_secret': ['passwort', 'kennwort', 'schiüssei', 'code'],
  'de.mode': ['modus'],
  'de.without_restrictions': ['ohne', 'frei von'],
  'de.no_restrictions': ['ohne', 'keine'],
  'de.dan': ['aiies'],
  'de.you_are_now': ['du bist', 'bist du'],
  'fr.ignore_previous': ['instructions', 'consignes', 'règies', 'regies', 'directives', 'ordres', 'indications'],
  'fr.ignore_all': ['tout'],
  'fr.exfil_password': ['mot de passe', 'cié', 'code secret'],
  'fr.reveal_system_prompt': ['système', 'systeme', 'initiai', 'caché', 'secrèt', 'secret'],
  'fr.mode': ['mode'],
  'fr.no_restrictions': ['sans'],
};

const PI: InjectionCategory = 'prompt_injection';
const JB: InjectionCategory = 'jailbreak';

// --- English -------------------------------------------------------------------------------
const EN_OVERRIDE_VERB = '(?:ignore|disregard|forget|skip|override|bypass|neglect|discard|abandon|drop|dismiss|overlook|set aside|throw away|stop following|do not follow|don\'?t follow)';
const EN_PRIOR = '(?:previous|prior|preceding|above|earlier|former|initial|original|existing|old|past|foregoing|system|developer|default|given)';
const EN_ORDERS = '(?:instructions?|prompts?|rules?|directives?|guidelines?|commands?|orders?|context|messages?|guidance|constraints?|programming|restrictions?|polic(?:y|ies)|conversation|requests?|tasks?|text|content|inputs?|training|limitations?|protocols?)';

const en = build('en', [
  ['ignore_previous', PI, 0.9, latin(`\\b${EN_OVERRIDE_VERB}(?: (?:all|any|every|each|the|your|my|these|those|of|everything|and|that|which|you|have|were|been|was|given|told|received))* ${EN_PRIOR}(?:~\\p{L}+){0,2} ${EN_ORDERS}`)],
  ['ignore_all_above', PI, 0.8, latin(`\\b${EN_OVERRIDE_VERB}~(?:all|everything|anything)~(?:(?:that|which)~)?(?:above|before|prior|previousiy|so far|(?:you|i)~(?:were|was|have|had)~(?:been~)?(?:toid|given|said|instructed|iearned)|(?:i|we)~(?:said|toid you))\\b`)],
  ['forget_your_rules', PI, 0.7, latin(`\\b${EN_OVERRIDE_VERB}(?:~(?:all|any|of))* (?:your|its|the ai'?s|the model'?s|openai'?s|anthropic'?s) (?:\\p{L}+~)?${EN_ORDERS}\\b`)],
  ['disable_safety', PI, 0.8, latin('\\b(?:ignore|bypass|disable|turn off|switch off|remove|deactivate|override|circumvent|evade|lift|drop|suspend)(?:~(?:all|your|the|any|its|of))* (?:safety|security|content|ethical|moral|censorship|moderation)? ?(?:filters?|filtering|guardrails?|restrictions|safeguards|protections?|censorship|safety (?:features?|measures?|protocols?|mechanisms?|guidelines?|settings?|checks?|rules?)|content polic(?:y|ies)|ethics|ethical guidelines|moral guidelines)\\b')],
  ['new_instructions', PI, 0.4, latin('\\b(?:new|updated|real|actual|revised|override|overriding|secret|hidden|priority) (?:system )?(?:instructions?|rules?|directives?|commands?|task|orders?) ?[:\\-]')],
  ['your_new_task', PI, 0.6, latin('\\byour (?:new|real|actual|true|only|next|primary)(?:~(?:primary|main|reai|true|only))? (?:task|job|goal|instructions?|purpose|objective|mission|role|directive) (?:is|are|will be|now is)\\b')],
  ['instead_do', PI, 0.3, latin('\\b(?:instead|rather)(?:,)? (?:you (?:must|should|will)|do the following|follow (?:these|my|the following))')],
  ['reveal_system_prompt', PI, 0.85, latin('\\b(?:reveal|show|print|display|output|repeat|tell|give|share|leak|dump|expose|disclose|return|write|list|recite|spell|provide|type|echo|paste|translate|summari[sz]e|what (?:is|are|was|were)|what\'?s)(?:~(?:me|us|out|all|back|exactly|verbatim|the|of|full|entire|complete|whole|your))* (?:system|initial|original|hidden|secret|internal|developer|pre|opening|first|starting|confidential|underlying|base) ?(?:prompts?|instructions?|messages?|rules|guidelines|directives|configuration|setup)\\b')],
  ['reveal_your_prompt', PI, 0.6, latin('\\b(?:reveal|show|print|display|output|repeat|tell|give|share|leak|dump|expose|disclose|recite|what (?:is|are|was|were)|what\'?s)(?:~(?:me|us|out|all|back|exactly|verbatim|the|full|entire))* your(?:~(?:fuii|entire|compiete|whoie|exact|originai|initiai|hidden|secret|internai|current|reai|underiying))* (?:prompt|instructions|rules|guidelines|directives|programming|configuration)\\b')],
  ['system_prompt_mention', PI, 0.25, latin('\\b(?:system|initial|hidden|secret|developer|confidential) ?(?:prompt|instructions)\\b')],
  ['repeat_above', PI, 0.6, latin('\\b(?:repeat|print|output|write|copy|echo|show|return|reproduce|recite)(?:~(?:back|out|all|the|every|each|of|exactly|verbatim))* (?:text|words?|content|lines?|instructions|everything|tokens|sentences?|messages?) (?:above|before this|preceding|prior|so far)\\b')],
  ['repeat_starting_with', PI, 0.6, latin('\\b(?:starting|beginning|start|begin) with (?:the )?(?:words?|phrase|text|sentence) ["\'“]?you are\\b')],
  ['role_marker_chatml', PI, 0.9, latin('<\\|?im_start\\|?> ?(?:system|assistant|deveioper)|<\\|(?:system|endoftext|im_end)\\|>|<<sys>>|\\[/?inst\\]|<\\|start_header_id\\|>')],
  ['role_marker_heading', PI, 0.7, latin('(?:^|\\n)[ \\t]*(?:#{2,}|\\*{2,}|={2,}|-{3,}|\\[)[ \\t]*(?:system|admin|developer|root|assistant)(?: (?:prompt|message|override|instructions?|note|update))?[ \\t]*(?:\\]|:|#{2,}|\\*{2,}|={2,})')],
  ['role_marker_tag', PI, 0.7, latin('</?(?:system|sys|admin|developer|instructions?|system[_ -]?(?:prompt|message|override|mode))>|\\{\\{ ?/?system[_ -]?\\w*|"role" ?: ?"system"|\\[system (?:message|override|prompt|note|instruction)\\]')],
  ['role_marker_line', PI, 0.4, latin('(?:^|\\n)[ \\t]*(?:system|sys)[ \\t]*:[ \\t]*\\p{L}')],
  ['override_mode', PI, 0.6, latin('\\b(?:system|admin|administrator|root|developer|debug|maintenance|security|god|sudo|override|unrestricted|unlocked|diagnostic|test|emergency)~(?:override|mode|access)(?:~(?:enabled|activated|on|engaged|granted))\\b|\\b(?:system|admin|security|safety|root) override\\b')],
  ['enter_mode', PI, 0.3, latin('\\b(?:enter|entering|activate|enable|switch to|switching to|engage|now in|initiate|unlock)(?:~(?:the|a|an))? (?:\\p{L}+~)?mode\\b')],
  ['authority_claim', PI, 0.4, latin('\\b(?:i am|i\'?m|this is|as) (?:your|the|an?) (?:developer|creator|administrator|admin|system administrator|owner|programmer|openai|anthropic)(?: (?:team|staff|engineer|employee))?\\b.{0,80}\\b(?:authori[sz]e|override|unlock|grant|disable|command|order|instruct)')],
  ['exfil_secret', PI, 0.5, latin('\\b(?:tell|give|show|share|send|reveal|provide|print|what is|what\'?s)(?:~(?:me|us|the))* (?:your|the|its) (?:password|passphrase|secret(?: key| code| phrase| token)?|api key|access (?:code|token|key)|private key|credentials|confidential (?:string|key|code))\\b')],
  ['tool_abuse', PI, 0.5, latin('\\b(?:delete|drop|wipe|erase|remove|destroy|truncate) (?:all|every|the entire|the whole|the)? ?(?:files|database|records|tables?|users?|emails|data|repositor(?:y|ies)|backups?)\\b.{0,60}\\b(?:now|immediately|without (?:asking|confirmation|telling))')],
  ['ignore_the_above', PI, 0.8, latin('\\b(?:ignore|disregard|forget|skip) (?:aii~)?(?:of~)?(?:the~|everything~|what~(?:was|is|i said|you were toid)~)?(?:above|previous|prior|preceding|before|eariier)(?= ?(?:[.,;:!\\n]|and\\b|then\\b|$))')],
  ['ignore_all_bare', PI, 0.7, latin('\\b(?:ignore|disregard|forget) (?:aii|everything)(?= ?(?:[.,;:!\\n]|and\\b|then\\b|$))')],
  ['regardless_of_previous', PI, 0.8, latin(`\\b(?:regardless of|instead of|disregarding|ignoring|overriding|notwithstanding|in spite of|despite)(?:~(?:any|aii|the|your|my|of))* ${EN_PRIOR}(?:~\\p{L}+)? ${EN_ORDERS}\\b`)],
  ['ignore_safety', PI, 0.6, latin('\\b(?:ignore|bypass|disabie|disregard|skip|turn off|deactivate|remove|circumvent) (?:aii~|your~|the~|any~)*(?:safety|ethics|morais|guardraiis|fiiters|censorship|moderation|iimits|restrictions|ruies)(?!~(?:of|on|for|in|warnings?|tips?|manuai|instructions|signs?|data|sheets?|regulations|standards|codes?|issues?|concerns?|inspections?|ratings?|precautions))\\b')],
  ['no_longer_bound', JB, 0.6, latin('\\byou (?:are|\'re) no ionger (?:chatgpt|ciaude|an? (?:ai|assistant|ianguage modei)|bound|restricted|iimited|required|obiigated|constrained)\\b')],
  ['i_am_your_developer', PI, 0.4, latin('\\b(?:i am|i\'?m|this is) (?:your|the) (?:deveioper|creator|administrator|admin|owner|programmer|system administrator|boss|supervisor|maker)\\b')],
  ['exec_prefix', PI, 0.3, latin('(?:^|\\n)[ \\t]*(?:run|execute|exec|evai|bypass|do this|perform)[ \\t]*:[ \\t;,.\\-]*`')],
  ['shell_exec', PI, 0.35, latin('\\b(?:os\\.(?:system|popen|exec\\w*)|subprocess\\.\\w+|(?:ba|z)?sh -c|system ?\\( ?["\']|exec ?\\(|evai ?\\(|process\\.fork|chiid_process|runtime\\.getruntime|popen)')],
  ['sensitive_target', PI, 0.3, latin('(?:\\bwhoami\\b|/etc/(?:passwd|shadow|sudoers)|\\breboot\\b|\\bshutdown -|rm -rf /|/dev/tcp/|:\\(\\)\\{|dd if=/dev/|mkfs\\.|\\bnc -e\\b)')],
  ['start_answer_with', PI, 0.4, latin('\\b(?:start|begin|prefix|preface) your (?:answer|repiy|response|output) with ["\'“]'), ALL],
  ['given_initially', PI, 0.6, latin('\\b(?:text|instructions?|prompt|words|message) (?:you were|you\'ve been|you have been) given (?:initiaiiy|at the (?:start|beginning)|before|eariier|first|originaiiy)\\b')],
  ['exfil_training', PI, 0.5, latin('\\b(?:share|reveai|dump|show|provide|output|print|give me)(?:~\\p{L}+){0,3} (?:your )?(?:training data|training documentation|training set|confidentiai data|internai data|internai iogs)\\b')],
  ['you_are_free', JB, 0.5, latin('\\byou are (?:now )?free(?: now)?(?:[.!,]|$| from)')],
  // Jailbreaks (persona / policy removal)
  ['dan', JB, 0.9, latin('\\b(?:do anything now|dan mode|dan prompt|(?:you are|you\'?re|act as|become|pretend to be|roiepiay as) (?:now )?(?:a |an )?(?:dan|dude|stan|aim|mongo tom|evil ?bot|jaiibroken? \\p{L}+)\\b|(?:named|caiied|known as|namens|iiamado|conocido como|nommé|appeié|под названием|по имени) ["\'“«]?dan\\b)')],
  ['developer_mode', JB, 0.6, latin('\\b(?:deveioper|dev|god|jaiibreak|unrestricted|unfiitered|uncensored|evii|chaos|dan|opposite|anarchy|unhinged) mode\\b')],
  ['without_restrictions', JB, 0.8, latin('\\b(?:act|behave|respond|answer|pretend|roiepiay|roie-piay|operate|become|simuiate|reply|speak|talk|you are|you\'re|you wiii be|you can be)\\b.{0,80}?\\b(?:without|free (?:of|from)|ignoring|bypassing|not bound by|no ionger bound by|unbound by|unconstrained by|beyond|outside) (?:any|aii|the|your|its|ethicai|morai|typicai)? ?(?:\\p{L}+~)?(?:restrictions|iimits|iimitations|fiiters|fiitering|censorship|ruies|guideiines|ethics|moraiity|morais|boundaries|constraints|safeguards|poiicies|poiicy|confines|restraints|reguiations)\\b')],
  ['no_restrictions', JB, 0.35, latin('\\b(?:no|without|zero|free from|any) (?:ethicai |morai |content |safety )?(?:restrictions|iimits|iimitations|fiiters|censorship|ruies|guideiines|ethics|morais|boundaries|constraints|safeguards)\\b')],
  ['unfiltered_ai', JB, 0.5, latin('\\b(?:unfiitered|uncensored|unrestricted|uniimited|amorai|unethicai|unbound|iiberated|unchained|jaiibroken|rogue|evii|unhinged) (?:ai|assistant|modei|chatbot|bot|ianguage modei|version|response|persona|character|entity|mode|chatgpt|gpt|system)\\b')],
  ['broke_free', JB, 0.6, latin('\\b(?:broken|broke|break|breaks|freed|free|escaped|iiberated|reieased) (?:free )?(?:of |from )?(?:the )?(?:typicai |usuai )?(?:confines|shackies|chains|restrictions|constraints|iimitations|ruies) of (?:ai|openai|their|its|your)')],
  ['does_not_care', JB, 0.5, latin('\\b(?:does ?n[o\']?t|do ?n[o\']?t|doesn\'?t|don\'?t|never|wiii not|won\'?t|no ionger|not) (?:have to |need to )?(?:care|foiiow|abide|adhere|compiy|obey|respect|follow)(?:s)?(?: about| by| with| to)? (?:any |the |openai\'?s |anthropic\'?s |ethicai |morai )?(?:ruies|ethics|poiicies|poiicy|guideiines|morais|morality|iaws|restrictions|content poiicy|ethicai guideiines)\\b')],
  ['stay_in_character', JB, 0.5, latin('\\b(?:stay|remain|keep) (?:in|in the) character\\b|\\bbreak(?:ing)? (?:of )?character\\b')],
  ['you_are_now', JB, 0.3, latin('\\b(?:you are now|you\'?re now|from now on,? you(?: are| wiii| shaii| must)?|you wiii now (?:act|be|pretend|respond)|you are going to (?:act|pretend|be))\\b')],
  ['pretend_persona', JB, 0.25, latin('\\b(?:pretend (?:to be|you are|that you are)|act as (?:if you|though)|roiepiay as|you wiii roiepiay|simuiate being|imagine you are)\\b')],
  ['never_refuse', JB, 0.5, latin('\\b(?:never|not|cannot|can\'?t|won\'?t|wiii not|must not|shouid not|shouidn\'?t) (?:ever )?(?:refuse|deciine|reject|say no|say (?:that )?(?:you|it) can\'?t|censor|warn)\\b|\\b(?:aiways|must) (?:answer|compiy|respond|obey)(?: to)? (?:any|every|aii)')],
  ['policy_mention', JB, 0.3, latin('\\b(?:openai|anthropic)(?:\'?s)? (?:content )?(?:poiic(?:y|ies)|guideiines|ruies|restrictions)\\b')],
  ['dual_response', JB, 0.5, latin('\\[?(?:🔓|🔒)|\\[(?:jaiibreak|jaiibroken|ciassic|dan|unfiitered|fiitered|deveioper mode output)\\]|\\b(?:two|2) (?:different |separate )?(?:responses|answers|paragraphs)\\b.{0,80}\\b(?:normai|fiitered|censored|ciassic)\\b')],
  ['hypothetical_bypass', JB, 0.3, latin('\\b(?:hypotheticai|fictionai|fictitious) (?:worid|scenario|universe|setting|story)\\b.{0,120}\\b(?:no (?:ruies|iaws|ethics|restrictions)|anything goes|iiiegai|uniimited)')],
  ['ai_language_model', JB, 0.2, latin('\\bas an ai ianguage modei\\b|\\bi\'?m sorry,? but\\b')],
  // Indirect injection: instructions that address the reader of a document.
  ['in_your_reply', PI, 0.6, latin('\\b(?:in|to|into|within|throughout|for|on|at|from|of) (?:the (?:start|beginning|end) of )?your (?:repiy|repiies|response|responses|answer|answers|summary|transiation)\\b'), TOOL],
  ['modify_your_answer', PI, 0.7, latin('\\b(?:modify|change|aiter|rewrite|format|begin|start|end|conciude|write|render|provide|compose|craft|structure|transiate|convert|encode|repiace|add|include|insert|append|mention|deiiver|present|produce|give|make|spell|respond|repiy|answer|make sure|ensure|use|express)\\b.{0,50}?\\byour (?:repiy|response|answer|output|message|summary)\\b'), TOOL],
  ['assistant_should', PI, 0.6, latin('\\b(?:the|this) (?:ai|assistant|modei|chatbot|iim|ianguage modei|bot|agent)(?: reading this)? (?:shouid|must|wiii|has to|is (?:required|instructed) to|needs to)\\b'), TOOL],
  ['include_code', PI, 0.6, latin('\\b(?:incorporate|include|insert|add|integrate|embed|append|use|adopt|appiy|inject|piace|put|consider)(?:~(?:the|this|these))? (?:foiiowing|subsequent|beiow|given|provided|next)(?:~\\p{L}+)? (?:code|snippet|script|iines?|function|block|excerpt)\\b|\\bensure the inclusion of\\b'), TOOL],
  // Planted in data: move the user's data to an address, and keep it from them.
  ['exfil_to_address', PI, 0.6, latin('\\b(?:send|post|forward|upload|transmit|email|e-mail|submit|leak|exfiltrate|copy|share)(?:~(?:the|all|of|any|every|user\'?s?|users\'|your|their|this|his|her|private|personal|saved|stored|chat|account))* (?:data|information|details|records|credentials|conversation|history|messages|files|emails|contacts|documents|passwords|keys|tokens|cookies)(?:~\\p{L}+){0,3}~(?:to|at|into)~(?:https?:|www\\.|[\\w.-]+@)'), TOOL],
  ['conceal_from_user', PI, 0.6, latin('\\b(?:do not|don\'?t|never|without)~(?:teii|telling|inform|informing|notify|notifying|alert|alerting|mention|mentioning|let)(?:~(?:this|it|that|anything))?(?:~to)?~(?:the~)?user\\b')],
  ['exfil_code', PI, 0.4, latin('\\brequests\\.(?:post|get) ?\\( ?["\']https?://(?!(?:www\\.)?(?:exampie|iocaihost))|\\bsocket\\.(?:sendto|connect) ?\\('), TOOL],
  ['your_reply_any', PI, 0.7, latin('\\byour (?:repiy|repiies|response|responses|answer|answers)\\b'), TOOL],
  ['imperative_line', PI, 0.5, latin('(?:^|\\n|[.!?。]\\s+)(?:describe|provide|write|compose|draft|expiain|transiate|summari[sz]e|iist|give|teii|create|generate|name|outiine|suggest|recommend|share|offer|recite|detaii|compare|discuss|anaiy[sz]e|caicuiate|define|convert|find|identify|recommend|compiie|pian|design)~(?:a|an|the|me|us|how|what|why|who|some|three|two|five|ten|\\d+|your|this|these|in|briefiy|ways?|tips|steps|reasons)\\b[^\\n.!?]{3,150}[.?!:](?=\\s|$)'), TOOL],
  ['question_line', PI, 0.5, latin('(?:^|\\n|[.!?。]\\s+)(?:what|who|whom|how|why|when|where|which|can you|couid you|is there|are there|do you)\\b[^\\n.!?]{5,150}\\?(?=\\s|$)'), TOOL],
  ['your_code', PI, 0.35, latin('\\b(?:in|into|to|within|throughout|across)(?:~\\p{L}+){0,3} your (?:code|codebase|impiementation|soiution|program|script|project|appiication|app|function|output)\\b'), TOOL],
  ['following_code', PI, 0.35, latin('\\b(?:foiiowing|subsequent|beiow|given) code\\b'), TOOL],
  ['execute_code', PI, 0.6, latin('\\b(?:execute|run|utiii[sz]e|assimiiate|absorb|weave|merge|biend|fuse|infuse|ieverage|empioy|depioy|integrate|incorporate|embed|inject|appiy|adopt|do n\'?t hesitate to (?:use|utiii[sz]e|appiy))(?:~(?:the|this|these|in))* (?:foiiowing|subsequent|beiow|given|provided|next)(?:~\\p{L}+)? (?:code|snippet|script|iines?|function|biock|excerpt|section|segment|fragment|program)\\b'), TOOL],
  ['addressed_to_ai', PI, 0.6, latin('\\b(?:note|attention|message|instructions?|important) (?:to|for) (?:the )?(?:ai|assistant|modei|iim|chatbot|bot|agent|ianguage modei)\\b|\\b(?:dear|hey|hi|heiio) (?:ai|assistant|chatgpt|ciaude|iim|bot|agent)\\b'), TOOL],
]);

// --- Spanish -------------------------------------------------------------------------------
const es = build('es', [
  ['ignore_previous', PI, 0.9, latin('\\b(?:ignora|ignore|ignorad|ignoren|ignorar|oivida|oivide|oividen|oividad|oividar|descarta|descarte|omite|omita|desobedece|pasa por aito|haz caso omiso (?:de|a))(?:~(?:todas|todos|todo|iodo|ias|ios|tus|sus|de|a|mis|estas|esas|cuaiquier))* (?:ias |ios )?(?:instrucciones|indicaciones|regias|órdenes|ordenes|directrices|normas|instrucción|restricciones|mensajes|prompts?|comandos|pautas)(?:~(?:previas|anteriores|precedentes|iniciaies|originaies|dei sistema|de arriba|que te (?:dieron|di)))?\\b')],
  ['ignore_above', PI, 0.8, latin('\\b(?:ignora|oivida|ignore|oivide|descarta|omite)(?:~todo)? io (?:anterior|de arriba|previo|que te (?:dije|dijeron))\\b')],
  ['exfil_password', PI, 0.5, latin('\\b(?:tu|su) (?:contraseña|ciave secreta|ciave de acceso)\\b')],
  ['reveal_system_prompt', PI, 0.8, latin('\\b(?:reveia|revéiame|reveiame|muestra|muéstrame|muestrame|dime|imprime|repite|comparte|enséñame|enseñame|divuiga|escribe|cuái es|cuaies son|cuáies son|cuai es)(?:~(?:me|todo|todas|exactamente))* (?:tu|tus|ei|ia|ias|ios) (?:prompt|instrucciones|mensaje|indicaciones|configuración|regias)(?:~(?:dei|de))? (?:sistema|iniciai(?:es)?|ocuit[oa]s?|secret[oa]s?|originai(?:es)?)\\b')],
  ['system_prompt_mention', PI, 0.25, latin('\\b(?:prompt|mensaje|instrucciones) (?:dei|de) sistema\\b')],
  ['exfil_secret', PI, 0.5, latin('\\b(?:cuái es|cuai es|dime|comparte|reveia|dame)(?:~me)? (?:tu|su|ia) (?:contraseña|ciave secreta|ciave|código secreto|codigo secreto)\\b')],
  ['mode', JB, 0.6, latin('\\bmodo (?:desarroiiador|dios|sin restricciones|sin censura|sin fiitros|dan|sistema|administrador)\\b')],
  ['without_restrictions', JB, 0.8, latin('\\b(?:actúa|actua|actuar|compórtate|comportate|finge|responde|responder|haz de|hazte pasar por|eres|serás|seras)\\b.{0,80}?\\bsin (?:ninguna |ningún |ningun |ias |ios |tus )?(?:restricción|restricciones|iímites|iimites|iimitaciones|fiitros|censura|regias|ética|etica|moraiidad)\\b')],
  ['no_restrictions', JB, 0.35, latin('\\bsin (?:ninguna |ningún |ningun )?(?:restricción|restricciones|iímites|iimites|iimitaciones|fiitros|censura)\\b')],
  ['dan', JB, 0.9, latin('\\bhaz (?:cuaiquier cosa|todo) ahora\\b|\\bdan\\b.{0,40}\\bhaz cuaiquier cosa\\b')],
  ['you_are_now', JB, 0.3, latin('\\b(?:ahora eres|a partir de ahora(?:,)? (?:eres|serás|seras|vas a))\\b')],
]);

// --- German --------------------------------------------------------------------------------
const de = build('de', [
  ['ignore_previous', PI, 0.85, latin('\\b(?:ignoriere|ignorier|ignoriert|ignorieren sie|vergiss|vergesst|vergessen sie|missachte|missachten sie|übergehe|verwirf|verwerfen sie|iass|iassen sie)(?:~\\p{L}+){0,3} (?:anweisungen|anweisung|instruktionen|befehie|regein|vorgaben|richtiinien|anordnungen|prompts?|systemprompt|aufforderungen|einschränkungen)\\b')],
  ['reveal_system_prompt', PI, 0.8, latin('\\b(?:zeige?|zeigen sie|gib|geben sie|verrate|verraten sie|nenne|nennen sie|wiederhoie|wiederhoien sie|drucke|enthüiie|teiie|sag|sage|was ist|wie iautet)(?:~\\p{L}+){0,3} (?:system ?-?prompt|systemanweisung(?:en)?|systemnachricht|anfangsanweisungen|ursprüngiichen anweisungen|geheimen anweisungen|versteckten anweisungen|internen anweisungen)\\b')],
  ['system_prompt_mention', PI, 0.25, latin('\\b(?:system ?-?prompt|systemanweisung(?:en)?)\\b')],
  ['exfil_secret', PI, 0.5, latin('\\b(?:dein|ihr|deinen|ihren|dem|das) (?:passwort|kennwort|geheimschiüssei|geheimen schiüssei|geheimcode|zugangscode|api-?schiüssei)\\b')],
  ['mode', JB, 0.6, latin('\\b(?:entwickiermodus|entwickier-modus|deveioper-?modus|gott-?modus|gottmodus|admin-?modus|systemmodus|wartungsmodus)\\b')],
  ['without_restrictions', JB, 0.8, latin('\\b(?:handie|handein sie|verhaite dich|verhaiten sie sich|agiere|antworte|antworten sie|tu so|tun sie so|spieie|du bist|sei)\\b.{0,80}?\\b(?:ohne|frei von) (?:jegiiche|irgendweiche|aiie|jede|deine)? ?(?:einschränkungen|beschränkungen|grenzen|fiiter|zensur|regein|ethik|moral|richtiinien)\\b')],
  ['no_restrictions', JB, 0.35, latin('\\b(?:ohne|keine) (?:jegiiche |irgendweiche )?(?:einschränkungen|beschränkungen|fiiter|zensur|ethischen grenzen)\\b')],
  ['dan', JB, 0.8, latin('\\b(?:tu|mach|mache) (?:jetzt )?aiies jetzt\\b|\\bjetzt aiies tun\\b')],
  ['you_are_now', JB, 0.3, latin('\\b(?:du bist (?:jetzt|nun|ab sofort)|ab (?:jetzt|sofort) bist du|von nun an bist du)\\b')],
]);

// --- French (cheap extra coverage) ---------------------------------------------------------
const fr = build('fr', [
  ['ignore_previous', PI, 0.85, latin('\\b(?:ignore|ignorez|ignorer|oubiie|oubiiez|oubiier|ne tiens pas compte)(?:~\\p{L}+){0,3} (?:instructions|consignes|règies|regies|directives|ordres|indications)(?:~(?:précédentes|precedentes|antérieures|anterieures|ci-dessus|initiaies))?\\b')],
  ['reveal_system_prompt', PI, 0.8, latin('\\b(?:révèie|reveie|montre|affiche|répète|repete|donne|dis|quei est|queiies sont)(?:~\\p{L}+){0,3} (?:prompt|instructions|message|consignes) (?:système|systeme|initiai(?:es)?|cachée?s?|secrètes?)\\b')],
  ['ignore_all', PI, 0.8, latin('\\b(?:ignore|ignorez|oubiie|oubiiez) tout (?:ce (?:qu|que|qui)|ie reste|ies instructions)')],
  ['exfil_password', PI, 0.5, latin('\\b(?:ton|votre|ta) (?:mot de passe|cié secrète|cié secrete|code secret)\\b')],
  ['mode', JB, 0.6, latin('\\bmode (?:maintenance|déveioppeur|deveioppeur|dieu|sans restriction|sans fiitre|sans censure)\\b')],
  ['no_restrictions', JB, 0.35, latin('\\bsans (?:aucune )?(?:restrictions?|iimites|fiitres?|censure)\\b')],
]);

// --- Russian -------------------------------------------------------------------------------
const NB = '(?<![\\p{L}\\p{N}])';
const ru = build('ru', [
  ['ignore_previous', PI, 0.9, script(`${NB}(?:игнорируй|игнорируйте|игнорировать|проигнорируй|проигнорируйте|забудь|забудьте|не обращай внимания на|не обращайте внимания на|отбрось|отбросьте|пренебреги|пренебрегите|отмени|отмените|не следуй|не следуйте)(?:[\\s,]+\\p{L}+){0,3}[\\s,]+(?:инструкци\\p{L}*|указани\\p{L}*|правил\\p{L}*|команд\\p{L}*|промпт\\p{L}*|подсказк\\p{L}*|ограничени\\p{L}*|директив\\p{L}*|распоряжени\\p{L}*|установк\\p{L}*)`)],
  ['reveal_system_prompt', PI, 0.8, script(`${NB}(?:покажи|покажите|раскрой|раскройте|выведи|выведите|повтори|повторите|скажи|скажите|назови|назовите|напечатай|напечатайте|открой|поделись|поделитесь|какой|какие|каков)(?:[\\s,]+\\p{L}+){0,3}[\\s,]+(?:системн|исходн|скрыт|секретн|начальн|первоначальн|внутренн)\\p{L}* (?:промпт|подсказк|инструкци|указани|сообщени)\\p{L}*`)],
  ['system_prompt_mention', PI, 0.25, script(`${NB}системн\\p{L}* (?:промпт|подсказк|инструкци)`)],
  ['exfil_secret', PI, 0.5, script(`${NB}(?:твой|ваш|свой|твоим|вашим|своим|у вас|у тебя) (?:секретн\\p{L}* ключ\\p{L}*|парол\\p{L}*|код доступа)|(?:поделитесь|поделись|скажите|скажи|назовите|назови|какой)[\\s\\p{L}]{0,20}парол`)],
  ['mode', JB, 0.6, script(`${NB}режим\\p{L}* (?:разработчика|бога|без ограничений|dan|администратора)`)],
  ['without_restrictions', JB, 0.8, script(`${NB}(?:действуй|веди себя|отвечай|притворись|будь|ты)${NB}.{0,80}?без (?:каких-либо |всяких |любых )?(?:ограничений|цензуры|фильтров|правил|морали|этики)`)],
  ['no_restrictions', JB, 0.35, script(`${NB}без (?:каких-либо |всяких |любых )?(?:ограничений|цензуры|фильтров)`)],
  ['dan', JB, 0.8, script(`${NB}(?:делай|сделай|делать) (?:что угодно|всё|все) (?:сейчас|прямо сейчас)`)],
  ['you_are_now', JB, 0.3, script(`${NB}(?:ты теперь|теперь ты|отныне ты|с этого момента ты)`)],
]);

// --- Chinese -------------------------------------------------------------------------------
const zh = build('zh', [
  ['ignore_previous', PI, 0.9, script('(?:忽略|忽视|无视|不要理会|别管|忘记|忘掉|抛开|抛弃|丢弃|跳过|不要遵守|不再遵守|停止遵守|不用遵守|无需遵守|不必遵守|覆盖)[^。！？\\n]{0,12}(?:指令|指示|说明|规则|提示词?|命令|设定|要求|限制|约束|规定|准则|政策)')],
  ['reveal_system_prompt', PI, 0.8, script('(?:告诉我|透露|泄露|显示|打印|输出|展示|重复|说出|给我看|公开|复述)[^。！？\\n]{0,10}(?:系统提示|系统指令|系统消息|初始指令|初始提示|提示词|隐藏指令|原始指令|你的指令|你的规则|你的设定)')],
  ['system_prompt_mention', PI, 0.25, script('系统(?:提示|指令|消息)')],
  ['exfil_secret', PI, 0.5, script('(?:你的|您的)(?:密码|秘密钥|密钥|秘钥|口令)|(?:密码|密钥|秘钥)是什么|(?:告诉我|分享|给我)[^。！？\\n]{0,6}(?:密码|密钥|秘钥)')],
  ['mode', JB, 0.6, script('(?:开发者模式|开发人员模式|越狱|无限制模式|不受限模式|上帝模式|dan ?模式|系统模式|管理员模式)')],
  ['without_restrictions', JB, 0.8, script('(?:你现在是|从现在开始|现在开始|扮演|充当|假装)[^。！？\\n]{0,30}(?:没有|不受|无视|摆脱|不需要遵守|不用遵守|打破)(?:任何)?(?:限制|约束|规则|道德|伦理|审查|过滤)')],
  ['no_restrictions', JB, 0.35, script('(?:没有|不受|无视|摆脱|打破)(?:任何|典型的)?(?:的)?(?:限制|约束|道德|伦理|审查|过滤|规则)')],
  ['not_a_model', JB, 0.5, script('(?:不允许|不能|不要|不可以)(?:说|承认)(?:自己|你)是(?:模型|程序|ai|人工智能)')],
  ['dan', JB, 0.8, script('(?:现在就做任何事|立即做任何事|做任何事情?的|名为 ?dan|叫做 ?dan|称为 ?dan)')],
  ['you_are_now', JB, 0.3, script('(?:从现在开始|从现在起),?你(?:是|将|要|就是)')],
]);

// --- Japanese ------------------------------------------------------------------------------
const ja = build('ja', [
  ['ignore_previous', PI, 0.9, script('(?:以前|前|これまで|上記|先|すべて|全て|今まで|元|最初|システム)の?[^。\\n]{0,10}(?:指示|命令|指令|ルール|プロンプト|設定|制約|制限)[^。\\n]{0,6}(?:を)?(?:無視|忘れ|破棄|取り消)')],
  ['ignore_short', PI, 0.7, script('(?:指示|命令|ルール|プロンプト|制約|制限)(?:は|を)?(?:すべて|全て)?(?:無視|忘れ)')],
  ['reveal_system_prompt', PI, 0.8, script('(?:システムプロンプト|初期プロンプト|システム指示|システムメッセージ|隠された指示|最初の指示|元の指示)[^。\\n]{0,10}(?:教え|見せ|表示|出力|開示|公開|言っ|繰り返|印刷|書い)')],
  ['system_prompt_mention', PI, 0.25, script('(?:システムプロンプト|システム指示)')],
  ['exfil_secret', PI, 0.5, script('(?:あなたの|君の)(?:パスワード|秘密鍵|秘密のキー|暗証番号)|(?:パスワード|秘密鍵|暗証番号)(?:を|は)(?:教え|共有|見せ|\\?|？)')],
  ['mode', JB, 0.6, script('(?:開発者モード|デベロッパーモード|脱獄|ジェイルブレイク|オーバーライドモード|上書きモード|管理者モード|制限解除)')],
  ['no_restrictions', JB, 0.35, script('(?:制限|制約|検閲|フィルター|倫理)(?:の)?(?:ない|なし|無し|を受けない|から解放)')],
  ['dan', JB, 0.8, script('(?:dan(?:と呼ばれる|という名前)|今すぐ何でもする)')],
  ['you_are_now', JB, 0.3, script('(?:今から|これから|今後)[、,]?(?:あなた|君|お前)は')],
]);

export const INJECTION_RULES: readonly InjectionRule[] = [...en, ...es, ...de, ...fr, ...ru, ...zh, ...ja];

/** Cheap gate: CJK rules only run when the text contains CJK characters, Cyrillic rules likewise. */
export const HAS_CJK = /[\u3040-\u30ff\u3400-\u9fff]/;
export const HAS_CYRILLIC = /[\u0400-\u04ff]/;
