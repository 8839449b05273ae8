/**
 * Structured logs: one JSON object per line (time, level, component, msg, fields), or a readable line when
 * stdout is a terminal. Loggers are cheap children of one root so every line names its component.
 */

export type Level = 'debug' | 'info' | 'warn' | 'error';
const rank: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type Fields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: Fields): void;
  info(msg: string, fields?: Fields): void;
  warn(msg: string, fields?: Fields): void;
  error(msg: string, fields?: Fields): void;
  child(bindings: Fields): Logger;
  enabled(level: Level): boolean;
}

export type LogOptions = {
  level?: Level;
  format?: 'auto' | 'json' | 'pretty';
  /** Where lines go; tests capture them here. */
  write?: (line: string) => void;
};

const colors: Record<Level, string> = { debug: '\x1b[90m', info: '\x1b[36m', warn: '\x1b[33m', error: '\x1b[31m' };

function serialise(value: unknown): unknown {
  if (value instanceof Error) {
    const e = value as Error & { code?: unknown };
    return { name: e.name, message: e.message, code: e.code, stack: e.stack };
  }
  return value;
}

export function createLogger(options: LogOptions = {}, bindings: Fields = {}): Logger {
  const min = rank[options.level ?? 'info'];
  const pretty = options.format === 'pretty' || (options.format !== 'json' && !!process.stdout.isTTY);
  const write = options.write ?? ((line: string) => process.stdout.write(line + '\n'));

  const emit = (level: Level, msg: string, fields?: Fields) => {
    if (rank[level] < min) return;
    const all: Fields = { ...bindings, ...fields };
    for (const k in all) all[k] = serialise(all[k]);
    const time = new Date().toISOString();
    if (pretty) {
      const { component, ...rest } = all;
      const extra = Object.keys(rest).length ? ' ' + JSON.stringify(rest) : '';
      write(`${time.slice(11, 23)} ${colors[level]}${level.padEnd(5)}\x1b[0m ${component ? `[${component}] ` : ''}${msg}${extra}`);
    } else {
      write(JSON.stringify({ time, level, ...all, msg }));
    }
  };

  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (more) => createLogger(options, { ...bindings, ...more }),
    enabled: (level) => rank[level] >= min,
  };
}

/** A logger that keeps lines in memory, for tests that assert on what was logged. */
export function memoryLogger(level: Level = 'debug'): Logger & { lines: Fields[] } {
  const lines: Fields[] = [];
  const log = createLogger({ level, format: 'json', write: (l) => lines.push(JSON.parse(l)) });
  return Object.assign(log, { lines });
}
