/**
 * The core journal I/O mode every benchmark of this folder runs with (CoreOptions.journalIo):
 * STRATA_JOURNAL_IO=thread-pool selects the other one, so both can be compared on one machine.
 */
import type { JournalIo } from '@strata/core';

export const JOURNAL_IO: JournalIo = process.env['STRATA_JOURNAL_IO'] === 'thread-pool' ? 'thread-pool' : 'event-loop';
