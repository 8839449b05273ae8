import { readdirSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fmt, ratio, type BenchModule, type BenchResult } from './lib.ts';

/**
 * `bun run bench [name…] [--quick]`: runs every bench/<name>/index.ts (or the named ones) and prints one table:
 * name, figure, unit, reference, ratio, target. Results are also written to bench/out/latest.json.
 */
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = args.filter((a) => !a.startsWith('--'));
const dirs = readdirSync(import.meta.dir, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(import.meta.dir, d.name, 'index.ts')) && d.name !== 'out')
  .map((d) => d.name)
  .filter((n) => !only.length || only.includes(n));

const all: (BenchResult & { module: string })[] = [];
for (const dir of dirs) {
  const mod = (await import(join(import.meta.dir, dir, 'index.ts'))).default as BenchModule;
  console.error(`\n== ${mod.name}: ${mod.description}`);
  try {
    const results = await mod.run({ quick, log: (m) => console.error(`   ${m}`) });
    all.push(...results.map((r) => ({ ...r, module: mod.name })));
  } catch (e) {
    console.error(`   failed: ${(e as Error).message}`);
    all.push({ module: mod.name, name: 'FAILED', value: NaN, unit: '', notes: (e as Error).message });
  }
}

const rows = all.map((r) => {
  const q = ratio(r);
  return [r.module, r.name, fmt(r.value), r.unit, r.reference ? `${fmt(r.reference.value)} (${r.reference.name})` : '', q === undefined ? '' : `${q.toFixed(2)}×`, r.target ?? '', r.notes ?? ''];
});
const header = ['bench', 'measure', 'figure', 'unit', 'reference', 'ratio', 'target', 'notes'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
console.log('\n' + line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(line(r));
mkdirSync(join(import.meta.dir, 'out'), { recursive: true });
writeFileSync(join(import.meta.dir, 'out', 'latest.json'), JSON.stringify(all, null, 2));
