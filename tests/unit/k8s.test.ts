import { describe, expect, test } from 'bun:test';
import { readdirSync, readFileSync } from 'node:fs';
import { Deployment } from 'kubernetes-models/apps/v1';
import { ConfigMap, Namespace, PersistentVolumeClaim, Secret, Service } from 'kubernetes-models/v1';
import { specs } from '../../src/platform/config.ts';
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
  test('every Deployment runs non-root on a read-only root filesystem with /health probes and resource limits', () => {
    expect(deployments.length).toBe(2);
    for (const d of deployments) {
      const pod = d.spec.template.spec;
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      for (const c of pod.containers) {
        expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
        expect(c.readinessProbe.httpGet.path).toBe('/health');
        expect(c.livenessProbe.httpGet.path).toBe('/health');
        expect(c.resources.limits.memory).toBeString();
      }
    }
  });

  test('the processor Deployment runs ROLE=processor and the main one a valid role', () => {
    const roles = deployments.map((d) => d.spec.template.spec.containers[0].env.find((e: any) => e.name === 'ROLE').value);
    expect(roles.sort()).toEqual(['api', 'processor']);
  });

  test('the ConfigMap and Secret only name variables the service knows', () => {
    const known = new Set(Object.keys(specs));
    for (const [, d] of docs.filter(([, d]) => d.kind === 'ConfigMap' || d.kind === 'Secret')) {
      for (const key of Object.keys(d.data ?? d.stringData)) expect(known.has(key) ? key : `unknown ${key}`).toBe(key);
    }
  });
});
