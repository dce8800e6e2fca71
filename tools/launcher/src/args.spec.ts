import { editDistance, parseLauncherArgs, UsageError } from './args';

describe('parseLauncherArgs', () => {
  it('defaults to one replica of every service on 8080+', () => {
    const o = parseLauncherArgs([]);
    expect(o.only).toEqual(['orchestrator', 'approval', 'router', 'guardrail', 'tool-executor']);
    expect(o.scale).toEqual({ orchestrator: 1, approval: 1, router: 1, guardrail: 1, 'tool-executor': 1 });
    expect(o).toMatchObject({ portBase: 8080, raw: false, demo: true, help: false });
  });

  it('reads --scale as a comma list or repeated, --only, --port-base, --raw and --no-demo', () => {
    const o = parseLauncherArgs(['--scale', 'orchestrator=2,tool-executor=3', '--scale', 'router=2', '--port-base', '18080', '--raw', '--no-demo']);
    expect(o.scale).toMatchObject({ orchestrator: 2, 'tool-executor': 3, router: 2, approval: 1 });
    expect(o).toMatchObject({ portBase: 18080, raw: true, demo: false });
    expect(parseLauncherArgs(['--only', 'router, orchestrator']).only).toEqual(['orchestrator', 'router']);
    expect(parseLauncherArgs(['--scale=orchestrator=2']).scale.orchestrator).toBe(2);
  });

  it.each([
    [['--scale', 'foo=x'], /--scale: unknown service "foo"; services are orchestrator, approval/],
    [['--scale', 'orchestrator=x'], /--scale orchestrator=x: replicas must be a whole number from 1 to 10/],
    [['--scale', 'orchestrator=0'], /from 1 to 10/],
    [['--scale', 'orchestrator=11'], /from 1 to 10/],
    [['--scale', 'orchestrator'], /expected <service>=<replicas>, got "orchestrator"/],
    [['--only', 'orchestrater'], /--only: unknown service "orchestrater" \(did you mean "orchestrator"\?\)/],
    [['--only', 'tool'], /did you mean "tool-executor"/],
    [['--only', 'router', '--scale', 'orchestrator=2'], /--scale names orchestrator, but --only leaves it out/],
    [['--port-base', 'abc'], /--port-base: expected a port number, got "abc"/],
    [['--port-base', '65533'], /must lie within 1-65535/],
    [['--port-base', '0'], /must lie within/],
    [['--sacle', 'x'], /Unknown option '--sacle'/],
    [['start'], /unexpected argument "start"/],
  ])('rejects %j with a clear message', (argv, message) => {
    expect(() => parseLauncherArgs(argv)).toThrow(UsageError);
    expect(() => parseLauncherArgs(argv)).toThrow(message);
  });

  it('checks the highest port a replica would take', () => {
    expect(parseLauncherArgs(['--port-base', '65500', '--scale', 'orchestrator=1']).portBase).toBe(65500);
    expect(() => parseLauncherArgs(['--port-base', '65500', '--scale', 'tool-executor=5'])).toThrow(/65544/);
  });

  it('computes edit distances', () => {
    expect(editDistance('router', 'rooter')).toBe(1);
    expect(editDistance('', 'abc')).toBe(3);
    expect(editDistance('guardrail', 'guardrail')).toBe(0);
  });
});
