import { Script } from 'node:vm';
import { consolePage } from './console.page';

describe('consolePage', () => {
  const html = consolePage('TESTNONCE');
  const script = /<script nonce="TESTNONCE">([\s\S]*?)<\/script>/.exec(html)?.[1] ?? '';

  it('carries the nonce on its only script and style, and loads nothing from elsewhere', () => {
    expect(script.length).toBeGreaterThan(1000);
    expect(html.match(/<script/g)).toHaveLength(1);
    expect(html.match(/<style/g)).toHaveLength(1);
    expect(html).toContain('<style nonce="TESTNONCE">');
    expect(html).not.toMatch(/\bsrc=|<link\b|https?:\/\/(?!\/)/);
  });

  it('has a script that parses, and puts data into the page with textContent only', () => {
    expect(() => new Script(script)).not.toThrow(); // compiled, not run
    expect(script).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/);
    expect(script).not.toContain('${');
  });

  it('reads the live count with fetch and the Authorization header, not EventSource', () => {
    expect(script).toContain("fetch('/v1/approvals/stream'");
    expect(script).not.toContain('EventSource(');
  });
});
