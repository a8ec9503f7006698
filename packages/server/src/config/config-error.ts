/**
 * A configuration mistake: the CLI prints `strata: <message>` on one line and exits with code 2.
 * The message always names the key and where its value came from (flag, environment, file).
 */
export class ConfigError extends Error {
  readonly key: string;

  constructor(key: string, message: string) {
    super(message);
    this.name = 'ConfigError';
    this.key = key;
  }
}
