import { existsSync } from 'node:fs';

/**
 * Which real services this test run may use. A service is used only when its variable is set (CI sets them
 * all from scripts/services.sh); when set but unreachable the suite is not skipped, so a broken service fails
 * loudly instead of hiding behind a skip.
 */
export type Services = {
  postgres?: string;
  redis?: string;
  kafka?: string[];
  s3?: { endpoint: string; accessKeyId: string; secretAccessKey: string; region: string; bucket: string };
  chromium?: string;
};

const env = Bun.env;

export const services: Services = {
  postgres: env.DATABASE_URL || undefined,
  redis: env.REDIS_URL || undefined,
  kafka: env.KAFKA_BOOTSTRAP_SERVERS ? env.KAFKA_BOOTSTRAP_SERVERS.split(',') : undefined,
  s3:
    env.S3_ENDPOINT && env.TEST_S3_BUCKET && env.S3_ACCESS_KEY_ID && env.S3_SECRET_ACCESS_KEY
      ? { endpoint: env.S3_ENDPOINT, accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY, region: env.S3_REGION ?? 'us-east-1', bucket: env.TEST_S3_BUCKET }
      : undefined,
  chromium: env.CHROMIUM_PATH ?? (existsSync('/usr/bin/chromium') ? '/usr/bin/chromium' : undefined),
};

const how: Record<keyof Services, string> = {
  postgres: 'DATABASE_URL is not set (run scripts/services.sh up and source .cache/services.env)',
  redis: 'REDIS_URL is not set (run scripts/services.sh up and source .cache/services.env)',
  kafka: 'KAFKA_BOOTSTRAP_SERVERS is not set (run scripts/services.sh up and source .cache/services.env)',
  s3: 'S3_ENDPOINT/TEST_S3_BUCKET are not set (run scripts/services.sh up and source .cache/services.env)',
  chromium: 'Chromium is not installed (apt-get install -y chromium, or set CHROMIUM_PATH)',
};

/**
 * Returns undefined when every named service is configured, else a one-line reason; prints the reason once so a
 * skipped suite says why. Use as `describe.skipIf(!!skipReason('kafka'))(...)`.
 */
const printed = new Set<string>();
export function skipReason(...needed: (keyof Services)[]): string | undefined {
  const missing = needed.filter((n) => !services[n]);
  if (!missing.length) return undefined;
  // In CI every suite must run: a missing service is a failure there, not a reason to skip.
  if (Bun.env.SILLAGE_CI) {
    console.error(`CI requires ${missing.join(', ')}: ${missing.map((m) => how[m]).join('; ')}`);
    return undefined;
  }
  const reason = missing.map((m) => how[m]).join('; ');
  if (!printed.has(reason)) {
    printed.add(reason);
    console.log(`skip: ${reason}`);
  }
  return reason;
}
