import { SubmitTaskSchema, taskIdFor } from './tasks';

describe('taskIdFor', () => {
  it('is a stable v5-layout UUID per tenant and key', () => {
    const a = taskIdFor('default', 'order-42');
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(taskIdFor('default', 'order-42')).toBe(a);
    expect(taskIdFor('other', 'order-42')).not.toBe(a);
    expect(taskIdFor('default', 'order-43')).not.toBe(a);
  });
});

describe('SubmitTaskSchema', () => {
  it('rejects missing input, wrong types and unknown keys with field names', () => {
    const r = SubmitTaskSchema.safeParse({ agent: 5, extra: true });
    expect(r.success).toBe(false);
    const paths = r.error!.issues.map((i) => i.path.join('.') || i.message);
    expect(paths).toEqual(expect.arrayContaining(['input', 'agent']));
    expect(JSON.stringify(r.error!.issues)).toContain('extra');
  });
});
