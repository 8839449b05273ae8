import { Kafka, logLevel, type Admin } from 'kafkajs';
import type { Logger } from '../log.ts';

export type KafkaStore = {
  kafka: Kafka;
  brokers: string[];
  admin(): Promise<Admin>;
  check(): Promise<Record<string, unknown>>;
  close(): Promise<void>;
};

const levels: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

export function openKafka(options: { brokers: string[]; clientId: string; log: Logger }): KafkaStore {
  const log = options.log.child({ component: 'kafka' });
  const kafka = new Kafka({
    clientId: options.clientId,
    brokers: options.brokers,
    connectionTimeout: 3000,
    requestTimeout: 30000,
    retry: { retries: 5, initialRetryTime: 300, maxRetryTime: 10000 },
    // kafkajs is chatty at INFO about routine group joins; keep its warnings and errors in our structured log.
    logLevel: logLevel.WARN,
    logCreator: () => ({ level, log: entry }) => {
      const { message, ...rest } = entry;
      log[levels[level] ?? 'info'](String(message), { namespace: entry.namespace, ...rest, timestamp: undefined, logger: undefined });
    },
  });
  let admin: Promise<Admin> | undefined;
  const getAdmin = () =>
    (admin ??= (async () => {
      const a = kafka.admin({ retry: { retries: 1 } });
      await a.connect();
      return a;
    })().catch((e) => {
      admin = undefined;
      throw e;
    }));
  return {
    kafka,
    brokers: options.brokers,
    admin: getAdmin,
    check: async () => {
      const cluster = await (await getAdmin()).describeCluster();
      return { brokers: cluster.brokers.length, controller: cluster.controller };
    },
    close: async () => {
      if (admin) await (await admin.catch(() => undefined))?.disconnect();
    },
  };
}
