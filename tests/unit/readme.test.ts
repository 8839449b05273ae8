import { expect, test } from 'bun:test';
import { specs } from '../../src/platform/config.ts';
import { ROOT } from '../helpers/index.ts';

test('the README documents every configuration variable', async () => {
  const readme = await Bun.file(`${ROOT}/README.md`).text();
  const missing = Object.keys(specs).filter((name) => !readme.includes(`| \`${name}\` |`));
  expect(missing).toEqual([]);
});
