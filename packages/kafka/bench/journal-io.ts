/**
 * The core journal I/O mode every benchmark of this folder runs with (CoreOptions.journalIo):
 * STRATA_JOURNAL_IO=event-loop|thread-pool|auto (default auto, the core's default), so
 * the modes can be compared on one machine.
 */
import type { JournalIo } from '@strata/core';

const MODES: readonly JournalIo[] = ['auto', 'event-loop', 'thread-pool'];

export function journalIoNamed(name: string | undefined): JournalIo {
  if (name === undefined || name === '') return 'auto';
  const mode = MODES.find((candidate) => candidate === name);
  if (!mode) throw new Error(`unknown journal I/O mode ${JSON.stringify(name)} (${MODES.join(', ')})`);
  return mode;
}

export const JOURNAL_IO: JournalIo = journalIoNamed(process.env['STRATA_JOURNAL_IO']);
