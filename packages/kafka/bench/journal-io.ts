/**
 * The core journal I/O mode every benchmark of this folder runs with (CoreOptions.journalIo):
 * STRATA_JOURNAL_IO=event-loop|thread-pool|auto (default auto, the core's default), so the modes
 * can be compared on one machine.
 */
import type { JournalIo } from '@strata/core';

const requested = process.env['STRATA_JOURNAL_IO'];
export const JOURNAL_IO: JournalIo = requested === 'thread-pool' || requested === 'event-loop' ? requested : 'auto';
