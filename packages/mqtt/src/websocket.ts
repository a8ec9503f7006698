/**
 * MQTT over WebSocket (MQTT 5 §6, 3.1.1 §6): the `mqtt-ws` listener hands us a raw TCP stream; an
 * HTTP server that never listens parses the upgrade request, `ws` does the handshake on path `/mqtt`
 * with subprotocol `mqtt` (or legacy `mqttv3.1`) [MQTT-6.0.0-3], and the resulting byte stream goes to
 * the same connection code as TCP. Binary frames only [MQTT-6.0.0-1].
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { createWebSocketStream, WebSocketServer } from 'ws';

export const MQTT_WS_PATH = '/mqtt';

export class WebSocketAdapter {
  private readonly http: Server;
  private readonly wss: WebSocketServer;

  constructor(onStream: (stream: Duplex, request: IncomingMessage) => void, payloadBytesMax: number) {
    this.http = createServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket: upgrade on /mqtt\n');
    });
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: payloadBytesMax,
      handleProtocols: (protocols) => {
        for (const p of ['mqtt', 'mqttv3.1']) if (protocols.has(p)) return p;
        return false;
      },
    });
    this.http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      const path = (request.url ?? '').split('?')[0];
      if (path !== MQTT_WS_PATH) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
        return;
      }
      this.wss.handleUpgrade(request, socket, head, (ws) => {
        const stream = createWebSocketStream(ws);
        onStream(stream, request);
      });
    });
  }

  /** Feeds one accepted TCP stream to the (never listening) HTTP server. */
  handle(stream: Duplex): void {
    this.http.emit('connection', stream);
  }

  close(): void {
    for (const client of this.wss.clients) client.terminate();
    this.wss.close();
    this.http.close();
  }
}
