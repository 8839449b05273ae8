import { describe, expect, test } from 'bun:test';
import { readdirSync, readFileSync } from 'node:fs';
import { Deployment } from 'kubernetes-models/apps/v1';
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import { loadConfig, ROLE_PARTS, specs } from '../../src/platform/config.ts';
import { ROOT } from '../helpers/index.ts';

const dir = `${ROOT}/deploy/k8s`;
const models: Record<string, new (data: any) => { validate(): void }> = { Deployment, ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service };
const docs = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
  .flatMap((f) => {
    const parsed = Bun.YAML.parse(readFileSync(`${dir}/${f}`, 'utf8')) as any;
    return (Array.isArray(parsed) ? parsed : [parsed]).map((d: any) => [f, d] as const);
  });

describe('Kubernetes manifests', () => {
  for (const [file, doc] of docs) {
    test(`${file} (${doc.kind}) is valid against the Kubernetes schema`, () => {
      const Model = models[doc.kind];
      expect(Model).toBeDefined();
      expect(() => new Model!(doc).validate()).not.toThrow();
    });
  }

  const deployments = docs.filter(([, d]) => d.kind === 'Deployment').map(([, d]) => d);
  test('every Deployment runs non-root on a read-only root filesystem with readiness on /health, liveness on /health/live, and resource limits', () => {
    expect(deployments.length).toBe(2);
    for (const d of deployments) {
      const pod = d.spec.template.spec;
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      for (const c of pod.containers) {
        expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
        expect(c.readinessProbe.httpGet.path).toBe('/health');
        expect(c.livenessProbe.httpGet.path).toBe('/health/live');
        expect(c.resources.limits.memory).toBeString();
      }
    }
  });

  const byComponent = (c: string) => deployments.find((d) => d.metadata.labels['app.kubernetes.io/component'] === c);
  const roleOf = (d: any) => d.spec.template.spec.containers[0].env.find((e: any) => e.name === 'ROLE').value as string;

  test('the single API replica serves the API and ingests (ROLE=api,ingest), and every part runs somewhere', () => {
    const api = byComponent('api');
    expect(api.spec.replicas).toBe(1);
    expect(roleOf(api)).toBe('api,ingest');
    expect(api.spec.template.spec.volumes.find((v: any) => v.name === 'data').persistentVolumeClaim.claimName).toBe('sillage-data');
    const parts = new Set(deployments.flatMap((d) => loadConfig({ ROLE: roleOf(d) }).ROLE));
    expect([...parts].sort()).toEqual([...ROLE_PARTS].sort());
  });

  test('the processor replicas run only the engagement pipeline (ROLE=processor)', () => {
    expect(roleOf(byComponent('processor'))).toBe('processor');
  });

  test('the ConfigMap and Secret only name variables the service knows', () => {
    const known = new Set(Object.keys(specs));
    for (const [, d] of docs.filter(([, d]) => d.kind === 'ConfigMap' || d.kind === 'Secret')) {
      for (const key of Object.keys(d.data ?? d.stringData)) expect(known.has(key) ? key : `unknown ${key}`).toBe(key);
    }
  });
});
