import { SseParser } from './sse';

describe('SseParser', () => {
  it('parses events with id, event and data', () => {
    const p = new SseParser();
    expect(p.push('id: 1\nevent: task.queued\ndata: {"seq":1}\n\n')).toEqual([{ id: '1', event: 'task.queued', data: '{"seq":1}' }]);
  });

  it('assembles events split across chunks anywhere, including inside a CRLF', () => {
    const text = 'id: 7\r\nevent: step.started\r\ndata: {"a":1}\r\n\r\nid: 8\r\ndata: x\r\n\r\n';
    for (let cut = 1; cut < text.length; cut++) {
      const p = new SseParser();
      const got = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))];
      expect(got).toEqual([
        { id: '7', event: 'step.started', data: '{"a":1}' },
        { id: '8', event: 'message', data: 'x' },
      ]);
    }
  });

  it('feeds byte by byte', () => {
    const p = new SseParser();
    const out = [...'data: a\r\rdata: b\n\n'].flatMap((c) => p.push(c));
    expect(out.map((m) => m.data)).toEqual(['a', 'b']);
  });

  it('joins multi-line data, ignores comments and unknown fields, keeps one leading space only', () => {
    const p = new SseParser();
    expect(p.push(': keep-alive\nfoo: bar\ndata:  two spaces\ndata:second\n\n')).toEqual([{ event: 'message', data: ' two spaces\nsecond' }]);
  });

  it('keeps the last id across events, reads retry, and skips events without data', () => {
    const p = new SseParser();
    const out = p.push('id: 3\nevent: ping\n\nretry: 1500\ndata: y\n\ndata: z\n\n');
    expect(out).toEqual([{ id: '3', retry: 1500, event: 'message', data: 'y' }, { id: '3', retry: 1500, event: 'message', data: 'z' }]);
  });

  it('drops an unterminated event at the end of the stream', () => {
    const p = new SseParser();
    expect(p.push('data: half')).toEqual([]);
    expect(p.end()).toEqual([]);
  });

  it('treats a field name without a colon as a field with an empty value', () => {
    const p = new SseParser();
    expect(p.push('data\n\n')).toEqual([{ event: 'message', data: '' }]);
  });
});
