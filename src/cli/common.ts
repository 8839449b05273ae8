import { ConfigError, loadConfig, type Config } from '../platform/config.ts';

/** Prints a message that names the fix and exits (2 = bad usage or configuration, by convention here). */
export function fail(message: string, code = 2): never {
  console.error(message);
  process.exit(code);
}

/** The validated configuration, or an exit with the variables to fix and how to run `command` again. */
export function cliConfig(command: string): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) fail(`${error.message}\nFix the variable(s) above in the environment and run \`bun run ${command}\` again.`);
    throw error;
  }
}
