import type { ConfigSchema } from './config/resolve-config.js';
import { describeSettings } from './config/resolve-config.js';

export function usage(schema: ConfigSchema): string {
  const lines = [
    'usage: strata serve [--config strata.yaml] [flags]',
    '       strata kafka-credential [--mechanism SCRAM-SHA-512|SCRAM-SHA-256] [--iterations 4096] < password',
    '       strata passwd [--cost 16384] < password        (an MQTT user\'s password hash for mqtt.users)',
    '',
    'Starts Strata: every registered protocol handler on one embedded store.',
    'Precedence: flags > environment > config file > defaults (docs/configuration.md).',
    '',
    'flag                                  environment                      config key',
  ];
  for (const row of describeSettings(schema)) {
    lines.push(`--${row.flag.padEnd(36)}${row.env.padEnd(33)}${row.key}`);
  }
  if (schema.listeners.length > 0) {
    lines.push('', 'listeners:');
    for (const spec of schema.listeners) lines.push(`  ${spec.id.padEnd(12)} default port ${String(spec.defaultPort).padEnd(6)} ${spec.description}`);
  }
  return lines.join('\n') + '\n';
}
