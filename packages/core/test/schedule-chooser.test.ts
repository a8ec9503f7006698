// The schedule chooser (log/schedule-chooser.ts): with the fsync thread, closed-loop producers are
// committed as two alternating halves or as whole groups, whichever measured faster. What must
// hold: it probes the other schedule after EPOCHS_BETWEEN_PROBES epochs, keeps it only when it was
// faster by SWITCH_GAIN_MIN, drops an epoch in which the committer ran out of appends; and in a
// core, both schedules are used and every acknowledged append survives an abandoned run.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openCoreImpl } from '../src/open-core.js';
import { EPOCH_MS, EPOCHS_BETWEEN_PROBES, SWITCH_GAIN_MIN, ScheduleChooser } from '../src/log/schedule-chooser.js';
import { assertHoldsExactly, produceUntil, removeDir, reopenAbandoned, tempDir, TOPIC } from './log-helpers.js';

/** A chooser on a clock the test moves: `epoch(rate)` runs one epoch at `rate` appends per ms. */
function chooserOnClock(): { chooser: ScheduleChooser; epoch: (rate: number) => void } {
  let nowMs = 0;
  const chooser = new ScheduleChooser(() => nowMs);
  chooser.acknowledged(0); // starts the first epoch
  const epoch = (rate: number): void => {
    // Ten groups per epoch, the last one closing it.
    for (let i = 0; i < 10; i++) {
      nowMs += EPOCH_MS / 10;
      chooser.acknowledged((rate * EPOCH_MS) / 10);
    }
  };
  return { chooser, epoch };
}

test('schedule chooser: probes the other schedule every EPOCHS_BETWEEN_PROBES epochs, keeps it only when it was faster by SWITCH_GAIN_MIN', () => {
  const { chooser, epoch } = chooserOnClock();
  assert.equal(chooser.halves, true, 'halves first');
  for (let i = 0; i < EPOCHS_BETWEEN_PROBES - 1; i++) epoch(100);
  assert.equal(chooser.halves, true);
  epoch(100); // the eighth epoch: the next one probes whole groups
  assert.equal(chooser.halves, false, 'probing whole groups');
  assert.equal(chooser.probes, 1);
  epoch(100 * SWITCH_GAIN_MIN * 0.99); // not faster enough
  assert.equal(chooser.halves, true, 'back to halves');
  assert.equal(chooser.switches, 0);
  for (let i = 0; i < EPOCHS_BETWEEN_PROBES; i++) epoch(100);
  assert.equal(chooser.halves, false, 'probing again');
  epoch(120); // whole groups faster: kept
  assert.equal(chooser.halves, false);
  assert.equal(chooser.switches, 1);
  // The probe's epoch counts as the first of whole groups.
  for (let i = 0; i < EPOCHS_BETWEEN_PROBES - 2; i++) epoch(120);
  assert.equal(chooser.halves, false, 'whole groups stay until the next probe');
  epoch(120);
  assert.equal(chooser.halves, true, 'probing halves');
  epoch(200);
  assert.equal(chooser.halves, true, 'halves faster again: kept');
  assert.equal(chooser.switches, 2);
});

test('schedule chooser: an epoch in which the committer ran out of appends is dropped', () => {
  const { chooser, epoch } = chooserOnClock();
  for (let i = 0; i < EPOCHS_BETWEEN_PROBES; i++) epoch(100);
  assert.equal(chooser.halves, false, 'probing whole groups');
  chooser.idle(); // the producers paused: what was counted of this epoch measured them
  chooser.acknowledged(0);
  epoch(1); // a slow start after the pause is not what whole groups can do...
  assert.equal(chooser.halves, true, '...and is judged as one epoch only: back to halves');
  for (let i = 0; i < EPOCHS_BETWEEN_PROBES; i++) epoch(100);
  chooser.idle();
  chooser.acknowledged(0);
  epoch(500);
  assert.equal(chooser.halves, false, 'a fast epoch after a pause counts normally');
});

test('core, auto journal I/O: the chooser runs both schedules under closed-loop producers, and every acknowledged append survives an abandoned run', async () => {
  const dir = tempDir('strata-schedule-');
  let core = await openCoreImpl({ dataDir: dir });
  try {
    await core.topics.create(TOPIC);
    const acknowledged = await produceUntil(core, 40, 's', () => core.log.stats().scheduleProbes >= 2, 15_000);
    assert.ok(core.log.stats().scheduleProbes >= 2, `the other schedule was probed (${core.log.stats().scheduleProbes} probes)`);
    assert.ok(core.log.stats().journalSyncsInThread > 0, 'halves went to the fsync thread');
    core = await reopenAbandoned(core, dir);
    await assertHoldsExactly(core, acknowledged);
  } finally {
    await core.close();
    removeDir(dir);
  }
});
