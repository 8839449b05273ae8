import { expect, test } from 'bun:test';
import { configTable, specs } from '../../src/platform/config.ts';
import { ROOT } from '../helpers/index.ts';

test('the README documents every configuration variable', async () => {
  const readme = await Bun.file(`${ROOT}/README.md`).text();
  const missing = Object.keys(specs).filter((name) => !readme.includes(`| \`${name}\` |`));
  expect(missing).toEqual([]);
});

test('the README configuration table is the one generated from config.ts (run `bun scripts/readme-config.ts`)', async () => {
  const readme = await Bun.file(`${ROOT}/README.md`).text();
  const start = readme.indexOf('\n', readme.indexOf('<!-- config:start')) + 1;
  const end = readme.indexOf('<!-- config:end -->');
  expect(readme.slice(start, end).trim()).toBe(configTable().trim());
});
