import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Subjects } from '@keel/contracts';
import { KEEL_SERVICES, natsAuthorizationConfig, permissionsOf } from './permissions';

describe('NATS permissions per service', () => {
  it('the nats-config ConfigMap in deploy/ holds exactly the generated authorization (node deploy/nats/generate-auth.mjs)', () => {
    const yaml = readFileSync(join(__dirname, '../../../deploy/k8s/base/nats.yaml'), 'utf8');
    const block = yaml.slice(yaml.indexOf('  auth.conf: |\n') + '  auth.conf: |\n'.length, yaml.indexOf('  # end of generated auth.conf'));
    const expected = natsAuthorizationConfig().split('\n').filter((l) => l !== '').map((l) => `    ${l}`).join('\n');
    expect(block.trimEnd()).toBe(expected);
  });

  it('gives work items and calls only to the services that own them', () => {
    const mayPublish = (subject: string) => KEEL_SERVICES.filter((s) => permissionsOf(s).publish.includes(subject)).sort();
    expect(mayPublish(Subjects.stepsRun)).toEqual(['approval', 'orchestrator']);
    expect(mayPublish(Subjects.approvalsDecided)).toEqual(['approval']);
    expect(mayPublish(Subjects.routerBatchSettled)).toEqual(['router']);
    expect(mayPublish(Subjects.toolsExecute)).toEqual(['orchestrator']);
    expect(mayPublish(Subjects.tasksSubmit)).toEqual([]);
    for (const s of KEEL_SERVICES) {
      const p = permissionsOf(s);
      // Replies go through allow_responses; inboxes are per service.
      expect(p.publish.some((x) => x.startsWith('_INBOX'))).toBe(false);
      expect(p.subscribe.filter((x) => x.startsWith('_INBOX'))).toEqual([`_INBOX_${s}.>`]);
      expect(p.publish).toContain(Subjects.deadLetter(s));
      expect(p.publish.some((x) => x === '>' || x.endsWith('$JS.API.>'))).toBe(false);
    }
  });

  it('uses config variables for passwords unless literals are given', () => {
    expect(natsAuthorizationConfig()).toContain('password: $KEEL_NATS_TOOL_EXECUTOR_PASSWORD');
    expect(natsAuthorizationConfig({ router: 's3cret' })).toContain('password: "s3cret"');
  });
});
