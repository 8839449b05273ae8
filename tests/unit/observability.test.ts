import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, testApp, type TestApp } from '../helpers/index.ts';

const alerts = Bun.YAML.parse(readFileSync(join(ROOT, 'deploy/prometheus/alerts.yml'), 'utf8')) as { groups: { rules: any[] }[] };
const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/dashboards/sillage.json'), 'utf8'));
const rules = alerts.groups.flatMap((g) => g.rules);
const exprs = [...rules.map((r) => String(r.expr)), ...dashboard.panels.flatMap((p: any) => (p.targets ?? []).map((t: any) => String(t.expr)))];
const referenced = new Set(exprs.flatMap((e) => e.match(/\bsillage_[a-z0-9_]+/g) ?? []).map((m) => m.replace(/_(bucket|sum|count)$/, '')));

/** Every metric the code declares (features register theirs on the app's registry or through worker telemetry). */
function declared(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : []));
  for (const file of walk(join(ROOT, 'src'))) for (const m of readFileSync(file, 'utf8').matchAll(/name: '(sillage_[a-z0-9_]+)'/g)) names.add(m[1]!);
  return names;
}

/** Label names per metric, from each declaration's object literal in src (its `labelNames: [...]`). */
function declaredLabels(): Map<string, string[]> {
  const labels = new Map<string, string[]>();
  const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : []));
  for (const file of walk(join(ROOT, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/name: '(sillage_[a-z0-9_]+)'/g)) {
      const literal = text.slice(m.index, text.indexOf('}', m.index));
      const list = literal.match(/labelNames: \[([^\]]*)\]/)?.[1] ?? '';
      labels.set(m[1]!, [...list.matchAll(/'([a-z_]+)'/g)].map((l) => l[1]!));
    }
  }
  return labels;
}

describe('dashboards and alerts', () => {
  let t: TestApp;
  let live: Set<string>;
  beforeAll(async () => {
    t = await testApp();
    const text = await (await t.request('/metrics')).text();
    live = new Set([...text.matchAll(/^# TYPE (\S+)/gm)].map((m) => m[1]!));
  });
  afterAll(() => t.close());

  test('every metric the Grafana dashboard and the alerts reference is exported by the service', () => {
    const known = new Set([...declared(), ...live]);
    expect([...referenced].filter((m) => !known.has(m))).toEqual([]);
    expect(referenced.size).toBeGreaterThan(15);
  });

  test('no metric has a label Prometheus sets on every scraped series (job, instance), which would be renamed exported_*', () => {
    const clashes = [...declaredLabels()].filter(([, names]) => names.includes('job') || names.includes('instance')).map(([metric]) => metric);
    expect(clashes).toEqual([]);
  });

  test('the dashboard and alerts group stream and engagement metrics only by labels those metrics have', () => {
    const labels = declaredLabels();
    const wrong: string[] = [];
    for (const expr of exprs as string[]) {
      const metrics = (expr.match(/\bsillage_(streams|engagement)_[a-z0-9_]+/g) ?? []).map((m) => m.replace(/_(bucket|sum|count)$/, ''));
      if (!metrics.length) continue;
      const have = new Set(['le', ...metrics.flatMap((m) => labels.get(m) ?? [])]);
      for (const by of expr.matchAll(/\bby \(([^)]*)\)/g)) for (const l of by[1]!.split(',').map((x) => x.trim())) if (!have.has(l)) wrong.push(`${l} in ${expr}`);
    }
    expect(wrong).toEqual([]);
    expect(exprs.some((e) => e.includes('by (stream_job) (sillage_streams_consumer_lag_records)'))).toBe(true);
  });

  test('metrics registered without any service configured are really on /metrics', () => {
    for (const m of ['sillage_http_requests_total', 'sillage_http_request_duration_seconds', 'sillage_etl_runs_total', 'sillage_gdelt_jobs_total', 'sillage_process_resident_memory_bytes'])
      expect(live.has(m) ? m : `missing ${m}`).toBe(m);
  });

  test('the alerts cover slot lag, consumer lag, dead letters, ingest failures and the 5xx rate, each with a severity and a summary', () => {
    const all = exprs.slice(0, rules.length).join('\n');
    for (const m of ['sillage_engagement_cdc_slot_lag_bytes', 'sillage_engagement_consumer_lag', 'sillage_engagement_dlq_total', 'sillage_gdelt_jobs_total', 'status=~"5.."']) expect(all).toContain(m);
    for (const r of rules) {
      expect(r.labels.severity).toMatch(/^(warning|critical)$/);
      expect(String(r.annotations.summary).length).toBeGreaterThan(10);
    }
  });

  test('the checked-in dashboard is what scripts/grafana-dashboard.ts generates', async () => {
    const before = readFileSync(join(ROOT, 'deploy/grafana/dashboards/sillage.json'), 'utf8');
    const r = Bun.spawnSync(['bun', 'scripts/grafana-dashboard.ts'], { cwd: ROOT });
    expect(r.exitCode).toBe(0);
    expect(readFileSync(join(ROOT, 'deploy/grafana/dashboards/sillage.json'), 'utf8')).toBe(before);
  });
});
