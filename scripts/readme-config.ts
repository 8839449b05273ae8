// Rewrites the README's configuration table from src/platform/config.ts, so docs never drift from the code.
import { configTable } from '../src/platform/config.ts';

const path = new URL('../README.md', import.meta.url).pathname;
const readme = await Bun.file(path).text();
const start = readme.indexOf('<!-- config:start');
const end = readme.indexOf('<!-- config:end -->');
if (start < 0 || end < 0) throw new Error('README.md lacks the <!-- config:start --> / <!-- config:end --> markers');
const head = readme.slice(0, readme.indexOf('\n', start) + 1);
await Bun.write(path, head + configTable() + '\n' + readme.slice(end));
console.log('README configuration table updated');
