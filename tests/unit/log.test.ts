import { expect, test } from 'bun:test';
import { createLogger, memoryLogger } from '../../src/platform/log.ts';

test('a log line is one JSON object with time, level, component and fields', () => {
  const log = memoryLogger('info');
  log.child({ component: 'etl' }).info('run finished', { runId: 7 });
  log.debug('hidden');
  expect(log.lines).toHaveLength(1);
  expect(log.lines[0]).toMatchObject({ level: 'info', component: 'etl', runId: 7, msg: 'run finished' });
  expect(typeof log.lines[0]!.time).toBe('string');
});

test('errors are logged with their message and stack', () => {
  const log = memoryLogger();
  log.error('boom', { error: new Error('bad thing') });
  expect((log.lines[0]!.error as { message: string }).message).toBe('bad thing');
});

test('pretty format is a readable line, not JSON', () => {
  const lines: string[] = [];
  createLogger({ format: 'pretty', write: (l) => lines.push(l) }, { component: 'http' }).warn('slow', { ms: 5 });
  expect(lines[0]).toContain('[http] slow {"ms":5}');
});
