import { extractFacts, factKey } from './facts';

describe('extractFacts', () => {
  it.each([
    ['English', 'My name is Ana López.'],
    ['English', 'I prefer window seats on long flights.'],
    ['English', "I'm allergic to peanuts."],
    ['English', 'I’m a vegetarian.'],
    ['English', 'I am 34 years old.'],
    ['English', 'Call me Dee.'],
    ['English', 'Please remember that the budget is 40k.'],
    ['English', 'My email is ana.lopez@example.com'],
    ['Spanish', 'Me llamo Lucía.'],
    ['Spanish', 'Mi ciudad favorita es Sevilla.'],
    ['Spanish', 'Prefiero el té sin azúcar.'],
    ['Spanish', 'Vivo en Valencia desde 2019.'],
    ['German', 'Ich heiße Jonas.'],
    ['German', 'Mein Name ist Jonas Weber.'],
    ['German', 'Ich wohne in Hamburg.'],
    ['German', 'Merk dir, dass ich keinen Kaffee trinke.'],
    ['Russian', 'Меня зовут Иван.'],
    ['Russian', 'Я живу в Казани.'],
    ['Russian', 'Мой любимый цвет — зелёный.'],
    ['Chinese', '我住在北京。'],
    ['Chinese', '我喜欢喝绿茶。'],
    ['Chinese', '我叫小明。'],
    ['Japanese', '私の名前は花子です。'],
    ['Japanese', '私は東京に住んでいます。'],
  ])('finds a first-person fact in %s: %s', (_language, sentence) => {
    expect(extractFacts(sentence)).toEqual([sentence]);
  });

  it('keeps only the fact sentences of a turn, in order, trimmed', () => {
    const turn = '  Hello there.  My   name is Ana.\nWhat time is it? The weather is nice today. I live in Lisbon!  ';
    expect(extractFacts(turn)).toEqual(['My name is Ana.', 'I live in Lisbon!']);
  });

  it('splits CJK sentences without spaces between them', () => {
    expect(extractFacts('今天天气很好。我住在上海。我喜欢猫。')).toEqual(['我住在上海。', '我喜欢猫。']);
  });

  it('keeps a sentence whole across a dot inside it (an address, a version)', () => {
    expect(extractFacts('I use Python 3.11 at work. Thanks.')).toEqual(['I use Python 3.11 at work.']);
    expect(extractFacts('My email is ana.lopez@example.com. Bye.')).toEqual(['My email is ana.lopez@example.com.']);
  });

  it.each([
    'What is my name?',
    'Do I prefer tea',
    'Where do I live?',
    '¿Cómo me llamo?',
    '¿Dónde vivo',
    'Wie heiße ich?',
    'Как меня зовут',
    'Как меня зовут?',
    'Что я люблю',
    'Qué prefiero para cenar',
    '我叫什么名字？',
    '我是学生吗',
    '我住在哪里?',
    '私の名前は何ですか？',
  ])('does not take a question for a fact: %s', (question) => {
    expect(extractFacts(question)).toEqual([]);
  });

  it.each([
    'The meeting is at noon.',
    'I am at the office until five.',
    'I am also curious about the weather.',
    'Thanks, that helps a lot.',
    'Mi hermano vive en Roma.',
  ])('ignores sentences that state nothing about the user: %s', (sentence) => {
    expect(extractFacts(sentence)).toEqual([]);
  });

  it('removes repeated sentences', () => {
    expect(extractFacts('I like jazz. I like jazz. My dog is called Rex. I like jazz.')).toEqual(['I like jazz.', 'My dog is called Rex.']);
    // Spacing differences are normalised before comparing.
    expect(extractFacts('I like  jazz.\nI like jazz.')).toEqual(['I like jazz.']);
  });

  it('skips over-long sentences but keeps one at the limit', () => {
    const long = `I prefer ${'very '.repeat(70)}long answers.`;
    expect(long.length).toBeGreaterThan(300);
    expect(extractFacts(`${long} I live in Oslo.`)).toEqual(['I live in Oslo.']);
    const atLimit = `I prefer ${'x'.repeat(300 - 'I prefer .'.length)}.`;
    expect(atLimit).toHaveLength(300);
    expect(extractFacts(atLimit)).toEqual([atLimit]);
  });

  it('skips fragments too short to be a fact', () => {
    expect(extractFacts('I am.')).toEqual([]);
    expect(extractFacts('我是')).toEqual([]);
  });

  it('returns nothing for empty or whitespace text', () => {
    expect(extractFacts('')).toEqual([]);
    expect(extractFacts(' \n\t ')).toEqual([]);
  });
});

describe('factKey', () => {
  it('folds case, inner spacing and final punctuation', () => {
    const key = factKey('My name is Ana.');
    expect(key).toBe('my name is ana');
    expect(factKey('  MY   NAME\tis ana!!  ')).toBe(key);
    expect(factKey('my name is ana')).toBe(key);
    expect(factKey('My name is Ana. ')).toBe(key);
  });

  it('folds full-width and CJK final punctuation', () => {
    expect(factKey('我叫小明。')).toBe('我叫小明');
    expect(factKey('Ｉ ｌｉｋｅ ｔｅａ！')).toBe('i like tea');
  });

  it('keeps what changes the meaning', () => {
    expect(factKey('I like tea.')).not.toBe(factKey('I like tea a lot.'));
    expect(factKey('My budget is 40k.')).not.toBe(factKey('My budget is 4.0k.'));
    // Only final punctuation is dropped, not punctuation inside.
    expect(factKey('I live in St. Ives.')).toBe('i live in st. ives');
  });

  it('does not keep requests or passing reactions as lasting facts', () => {
    expect(extractFacts('I need the Q3 report by Friday. I want you to rewrite this email. I like this answer, thanks.')).toEqual([]);
    expect(extractFacts('I like hiking in the Alps.')).toEqual(['I like hiking in the Alps.']);
  });
});
