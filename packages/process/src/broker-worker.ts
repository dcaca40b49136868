/**
 * The broker thread: serves this process's primitives to child processes
 * over a Unix domain socket (frames: wire.ts). It runs in a worker thread of
 * the owning process, so it keeps serving while the owner's main thread is
 * blocked in a Sync call or busy computing, and it operates on the very
 * SharedArrayBuffer words the owner and its threads use.
 *
 * This file starts it: the registry listens to the owner's thread
 * (broker-registry.ts), and each connection is a Conn (broker-conn.ts: who
 * gets in, how much it may send, what it may ask, what a dead child leaves
 * behind), whose streamed calls are broker-stream.ts's and whose books
 * broker-holdings.ts keeps. The broker names no primitive: it serves what
 * each class's ProcessSpec lists and calls its hooks.
 *
 * The socket's directory is 0700 already (broker.ts); the socket itself is
 * made 0600 too, as soon as it listens.
 */
import { chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { type MessagePort, workerData } from 'node:worker_threads';
import { Conn } from './broker-conn.js';
import { startRegistry } from './broker-registry.js';

const { socket: socketPath, port } = workerData as { socket: string; port: MessagePort };

startRegistry(port, socketPath);

const server = createServer((socket) => new Conn(socket));
server.on('error', (error) => {
  process.stderr.write(`conc broker: ${error.message}\n`);
});
server.listen(socketPath, () => {
  try {
    chmodSync(socketPath, 0o600);
  } catch (error) {
    process.stderr.write(`conc broker: cannot restrict ${socketPath}: ${(error as Error).message}\n`);
  }
});
