/**
 * A minimal MQTT 3.1.1 load generator for the benchmarks, one role per process so that the publisher,
 * the subscriber and the broker each get their own event loop. It writes pre-encoded packets and only
 * splits frames on the way in (no full parse), so it costs far less CPU per message than mqtt.js and
 * is the same for every broker it drives.
 *
 *   node raw-client.js sub <port> <topic> <qos> <count>   prints "ready", then on stdin "go <t0>" ...
 *   node raw-client.js pub <port> <topic> <qos> <count> <window>   prints "ready", publishes on "go"
 *
 * Both print one JSON line when done: the subscriber {received, lastMs} (lastMs: Date.now() of the
 * last message, or of the end of its wait), the publisher {sent, acked, startMs, endMs}.
 * Bounded: the subscriber stops after `count` messages, or 1 s without one once some arrived, or 30 s.
 */
import { connect, type Socket } from 'node:net';

const [role, portArg, topic = 'bench/p2p', qosArg = '0', countArg = '1000', windowArg = '200'] = process.argv.slice(2);
const port = Number(portArg);
const qos = Number(qosArg) as 0 | 1;
const count = Number(countArg);
const window = Number(windowArg);
const IDLE_MS_MAX = 1000;
const RUN_MS_MAX = 30_000;
const PAYLOAD_BYTES = 64;
/** Frames per write for QoS 0 (one syscall per batch, as a real client batching in one tick would). */
const QOS0_FRAMES_PER_WRITE = 100;

function remainingLength(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

function connectPacket(clientId: string): Buffer {
  const id = Buffer.from(clientId);
  // protocol name "MQTT", level 4, flags: clean session, keep-alive 60 s
  const variable = Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x02, 0x00, 0x3c]);
  const body = Buffer.concat([variable, Buffer.from([id.length >> 8, id.length & 0xff]), id]);
  return Buffer.concat([Buffer.from([0x10, ...remainingLength(body.length)]), body]);
}

function subscribePacket(filter: string, subQos: number): Buffer {
  const f = Buffer.from(filter);
  const body = Buffer.concat([Buffer.from([0x00, 0x01, f.length >> 8, f.length & 0xff]), f, Buffer.from([subQos])]);
  return Buffer.concat([Buffer.from([0x82, ...remainingLength(body.length)]), body]);
}

/** A PUBLISH frame; for QoS 1 the packet id sits at `idOffset`. */
function publishTemplate(publishQos: 0 | 1): { frame: Buffer; idOffset: number } {
  const t = Buffer.from(topic);
  const remaining = 2 + t.length + (publishQos > 0 ? 2 : 0) + PAYLOAD_BYTES;
  const header = Buffer.from([0x30 | (publishQos << 1), ...remainingLength(remaining)]);
  const frame = Buffer.alloc(header.length + remaining, 0x61);
  header.copy(frame, 0);
  frame.writeUInt16BE(t.length, header.length);
  t.copy(frame, header.length + 2);
  return { frame, idOffset: header.length + 2 + t.length };
}

/** Splits frames out of the stream; calls onFrame(type, buffer, start, end). */
class Frames {
  private rest: Buffer | null = null;
  push(chunk: Buffer, onFrame: (type: number, data: Buffer, start: number, end: number) => void): void {
    const data = this.rest === null ? chunk : Buffer.concat([this.rest, chunk]);
    this.rest = null;
    let pos = 0;
    for (;;) {
      if (pos + 2 > data.length) break;
      let length = 0;
      let multiplier = 1;
      let i = pos + 1;
      let complete = false;
      for (; i < data.length && i < pos + 5; i++) {
        length += (data[i]! & 0x7f) * multiplier;
        multiplier *= 128;
        if ((data[i]! & 0x80) === 0) {
          complete = true;
          i++;
          break;
        }
      }
      if (!complete || i + length > data.length) break;
      onFrame(data[pos]! >> 4, data, pos, i + length);
      pos = i + length;
    }
    if (pos < data.length) this.rest = Buffer.from(data.subarray(pos));
  }
}

function open(clientId: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    s.setNoDelay(true);
    s.once('error', reject);
    s.once('connect', () => s.write(connectPacket(clientId)));
    s.once('data', (d: Buffer) => {
      if (d[0] !== 0x20 || d[3] !== 0) return reject(new Error('CONNACK refused'));
      resolve(s);
    });
  });
}

function waitGo(): Promise<void> {
  return new Promise((resolve) => {
    process.stdin.on('data', (d: Buffer) => {
      if (d.toString().includes('go')) resolve();
    });
  });
}

async function subscriber(): Promise<void> {
  const s = await open(`raw-sub-${process.pid}`);
  await new Promise<void>((resolve) => {
    s.once('data', () => resolve()); // SUBACK
    s.write(subscribePacket(topic, qos));
  });
  let received = 0;
  let lastMs = Date.now();
  const frames = new Frames();
  s.on('data', (chunk: Buffer) => {
    const acks: number[] = [];
    frames.push(chunk, (type, data, start, end) => {
      if (type !== 3) return;
      received++;
      if (((data[start]! >> 1) & 3) === 1) {
        // packet id follows the topic
        let i = start + 1;
        while ((data[i]! & 0x80) !== 0) i++;
        i++;
        const topicLength = data.readUInt16BE(i);
        acks.push(data.readUInt16BE(i + 2 + topicLength));
      }
      void end;
    });
    lastMs = Date.now();
    if (acks.length > 0) {
      const out = Buffer.allocUnsafe(acks.length * 4);
      for (let k = 0; k < acks.length; k++) {
        out[k * 4] = 0x40;
        out[k * 4 + 1] = 0x02;
        out.writeUInt16BE(acks[k]!, k * 4 + 2);
      }
      s.write(out);
    }
  });
  process.stdout.write('ready\n');
  await waitGo();
  const startedMs = Date.now();
  lastMs = startedMs;
  // Before the first message the wait is bounded by RUN_MS_MAX only (a broker may be slow to start).
  while (received < count && (received === 0 || Date.now() - lastMs < IDLE_MS_MAX) && Date.now() - startedMs < RUN_MS_MAX) {
    await new Promise((r) => setTimeout(r, 5));
  }
  process.stdout.write(`${JSON.stringify({ received, lastMs })}\n`);
  s.destroy();
}

async function publisher(): Promise<void> {
  const s = await open(`raw-pub-${process.pid}`);
  process.stdout.write('ready\n');
  await waitGo();
  const startMs = Date.now();
  let sent = 0;
  let acked = 0;
  if (qos === 0) {
    const { frame } = publishTemplate(0);
    const batch = Buffer.concat(Array.from({ length: QOS0_FRAMES_PER_WRITE }, () => frame));
    // Bounded: `count` messages, waiting for 'drain' whenever the socket buffer is full.
    while (sent < count) {
      const n = Math.min(QOS0_FRAMES_PER_WRITE, count - sent);
      const ok = s.write(n === QOS0_FRAMES_PER_WRITE ? batch : batch.subarray(0, n * frame.length));
      sent += n;
      if (!ok) await new Promise((r) => s.once('drain', r));
    }
    await new Promise<void>((r) => s.write(Buffer.alloc(0), () => r()));
  } else {
    const { frame, idOffset } = publishTemplate(1);
    let nextId = 1;
    const fill = (): void => {
      const n = Math.min(count - sent, window - (sent - acked));
      if (n <= 0) return;
      const out = Buffer.allocUnsafe(n * frame.length);
      for (let k = 0; k < n; k++) {
        frame.copy(out, k * frame.length);
        out.writeUInt16BE(nextId, k * frame.length + idOffset);
        nextId = nextId === 65535 ? 1 : nextId + 1;
      }
      sent += n;
      s.write(out);
    };
    const frames = new Frames();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, RUN_MS_MAX);
      s.on('data', (chunk: Buffer) => {
        frames.push(chunk, (type) => {
          if (type === 4) acked++;
        });
        if (acked >= count) {
          clearTimeout(timer);
          resolve();
        } else fill();
      });
      fill();
    });
  }
  process.stdout.write(`${JSON.stringify({ sent, acked, startMs, endMs: Date.now() })}\n`);
  s.destroy();
}

if (role === 'sub') await subscriber();
else if (role === 'pub') await publisher();
else throw new Error(`unknown role ${role}`);
process.exit(0);
