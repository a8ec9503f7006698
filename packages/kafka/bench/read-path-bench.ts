/**
 * The socket read path alone: ~1 MB frames (a Produce request's size) sent as fast as a client in a
 * worker thread can, received by this process's main thread and assembled by FrameDecoder, two ways
 * alternated: (a) 'data' events (a fresh 64 KiB buffer per read from Node, copied into the frame);
 * (b) src/socket-read-into.ts (reads land in the frame itself). Frames are kept, not reused (as a
 * transferred Produce batch is). Per round and way: MB/s, the main thread's CPU milliseconds per MB
 * received and its time preempted (bench/thread-cpu.ts), the isolate's garbage collections.
 * Usage: node read-path-bench.js [frames=400] [rounds=5]
 */
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { PerformanceObserver, constants as perfConstants, type PerformanceEntry } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { FrameDecoder } from '../src/protocol/frame.js';
import { FramePool } from '../src/protocol/frame-pool.js';
import { readSocketInto } from '../src/socket-read-into.js';
import { mainThreadSchedNs } from './thread-cpu.js';

const FRAMES = Math.max(10, Number(process.argv[2] ?? 400));
const ROUNDS = Math.min(20, Math.max(1, Number(process.argv[3] ?? 5)));
const FRAME_BYTES = 975 * 1024;
const ROUND_DEADLINE_MS = 60_000;

let markCompacts = 0;
let scavenges = 0;
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
    if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) markCompacts++;
    else if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) scavenges++;
  }
});

/** The client: FRAMES frames of FRAME_BYTES, written with backpressure, then end. */
const CLIENT = `
const net = require('node:net');
const { workerData, parentPort } = require('node:worker_threads');
const frame = Buffer.alloc(4 + workerData.frameBytes, 0x61);
frame.writeInt32BE(workerData.frameBytes, 0);
const socket = net.connect(workerData.port, '127.0.0.1', () => {
  let sent = 0;
  const more = () => {
    while (sent < workerData.frames) {
      sent++;
      if (!socket.write(frame)) return void socket.once('drain', more);
    }
    socket.end();
  };
  more();
});
socket.resume();
socket.on('close', () => parentPort.postMessage('done'));
`;

type Way = 'data events' | 'read into';

async function round(way: Way): Promise<{ cpuMsPerMb: number; line: string }> {
  const kept: Buffer[] = [];
  let received = 0;
  let resolveDone!: () => void;
  const done = new Promise<void>((resolve) => (resolveDone = resolve));
  const onFrames = (frames: Buffer[]): void => {
    for (const frame of frames) {
      received++;
      if (kept.push(frame) > 64) kept.shift(); // held a while, as the core's tail cache holds a batch
    }
    if (received === FRAMES) resolveDone();
  };
  const server = createServer((socket: Socket) => {
    const decoder = new FrameDecoder(64 * 1024 * 1024, new FramePool());
    socket.on('error', () => {});
    if (way === 'read into') {
      const buffered = readSocketInto(socket, { target: () => decoder.readTarget(), received: (target, bytes) => onFrames(decoder.received(target, bytes)) });
      if (buffered === null) throw new Error('this Node does not offer reads into our buffers');
      for (const chunk of buffered) onFrames(decoder.push(chunk));
      socket.resume();
    } else {
      socket.on('data', (chunk: Buffer) => onFrames(decoder.push(chunk)));
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const gcBefore = [markCompacts, scavenges];
  const before = mainThreadSchedNs();
  const started = performance.now();
  const worker = new Worker(CLIENT, { eval: true, workerData: { port, frames: FRAMES, frameBytes: FRAME_BYTES } });
  const timer = setTimeout(() => void worker.terminate(), ROUND_DEADLINE_MS);
  await done;
  const ms = performance.now() - started;
  const after = mainThreadSchedNs();
  clearTimeout(timer);
  await worker.terminate();
  server.close();
  await new Promise((resolve) => setTimeout(resolve, 50)); // this round's gc entries
  const mb = (FRAMES * FRAME_BYTES) / 1048576;
  const cpuMsPerMb = before && after ? (after.cpuNs - before.cpuNs) / 1e6 / mb : NaN;
  const waitMsPerMb = before && after ? (after.waitNs - before.waitNs) / 1e6 / mb : NaN;
  return {
    cpuMsPerMb,
    line:
      `${way.padEnd(12)} ${(mb / (ms / 1000)).toFixed(0).padStart(6)} MB/s   cpu ${cpuMsPerMb.toFixed(3)} ms/MB   preempted ${waitMsPerMb.toFixed(3)} ms/MB   ` +
      `mark-compacts ${markCompacts - gcBefore[0]!}, scavenges ${scavenges - gcBefore[1]!}`,
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

observer.observe({ entryTypes: ['gc'] });
console.log(`${FRAMES} frames of ${FRAME_BYTES} B per round and way, ${ROUNDS} rounds alternated`);
const results: Record<Way, number[]> = { 'data events': [], 'read into': [] };
for (let i = 0; i < ROUNDS; i++) {
  for (const way of ['data events', 'read into'] as const) {
    const r = await round(way);
    results[way].push(r.cpuMsPerMb);
    console.log(r.line);
  }
}
observer.disconnect();
console.log(`median main-thread cpu per MB: data events ${median(results['data events']).toFixed(3)} ms, read into ${median(results['read into']).toFixed(3)} ms`);
