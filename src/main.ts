import { ConfigError, loadConfig } from './platform/config.ts';
import { createContext } from './platform/context.ts';
import { startServer } from './server.ts';

let config;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  throw error;
}

const ctx = await createContext(config);
const log = ctx.log.child({ component: 'main' });
const server = startServer(ctx);
log.info('listening', { url: `http://${config.HOST === '0.0.0.0' ? 'localhost' : config.HOST}:${server.port}`, role: config.ROLE.join(','), dataDir: config.dataDir });

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  log.info('shutting down', { signal });
  ctx.beginShutdown();
  // stop(false) stops accepting and lets in-flight requests finish.
  await server.stop(false);
  await ctx.close();
  log.info('stopped');
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));
