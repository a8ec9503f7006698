import { connect, type Socket } from 'node:net';

/** Connects, writes `send`, and resolves with the first `expectBytes` bytes received (bounded by timeoutMs). */
export async function exchange(port: number, send: string, expectBytes: number, timeoutMs = 5_000): Promise<string> {
  const socket = connect({ host: '127.0.0.1', port });
  try {
    return await new Promise<string>((resolve, reject) => {
      let received = Buffer.alloc(0);
      const timer = setTimeout(() => reject(new Error(`no ${expectBytes} bytes within ${timeoutMs} ms (got ${received.length})`)), timeoutMs);
      socket.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        if (received.length >= expectBytes) {
          clearTimeout(timer);
          resolve(received.subarray(0, expectBytes).toString('latin1'));
        }
      });
      socket.once('connect', () => socket.write(send));
    });
  } finally {
    socket.destroy();
  }
}

/** Opens a connection and resolves once connected (or rejects on error). */
export async function openSocket(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

/** Resolves when the peer closes the socket (end or reset), false if it is still open after timeoutMs. */
export async function closedByPeer(socket: Socket, timeoutMs = 3_000): Promise<boolean> {
  if (socket.destroyed) return true;
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    socket.once('close', done);
    socket.once('end', done);
    socket.once('error', () => undefined);
    socket.resume();
  });
}
