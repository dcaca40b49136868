// The child process of bench/rows/shm.mjs (a script, not thread targets): the region is fd 3; argv: mode, n, spin.
// Words: 0 ping-pong turn, 1 ready, 2 go, 3 counter, 4 the 3-state mutex.
import { mapRegion, wait, wake } from '@conc/shm';

const [mode, nArg, spinArg] = process.argv.slice(2);
const n = Number(nArg);
const spin = Number(spinArg ?? 0);
const a = new Int32Array(mapRegion(3).buffer);

/** Until word i equals want: poll `spin` times, then park on the futex. */
export function awaitValue(w, i, want, spins) {
  for (;;) {
    for (let k = 0; k < spins; k++) if (Atomics.load(w, i) === want) return;
    const v = Atomics.load(w, i);
    if (v === want) return;
    wait(w, i, v, 10_000);
  }
}

function rendezvous() {
  Atomics.store(a, 1, 1);
  wake(a, 1);
  while (Atomics.load(a, 2) === 0) wait(a, 2, 0, 100);
}

if (mode === 'pong') {
  rendezvous();
  for (let i = 0; i < n; i++) {
    awaitValue(a, 0, 2 * i + 1, spin);
    Atomics.store(a, 0, 2 * i + 2);
    wake(a, 0);
  }
} else if (mode === 'mutex') {
  rendezvous();
  for (let i = 0; i < n; i++) {
    let c = Atomics.compareExchange(a, 4, 0, 1);
    if (c !== 0) {
      if (c !== 2) c = Atomics.exchange(a, 4, 2);
      while (c !== 0) {
        wait(a, 4, 2);
        c = Atomics.exchange(a, 4, 2);
      }
    }
    a[3]++;
    if (Atomics.sub(a, 4, 1) !== 1) {
      Atomics.store(a, 4, 0);
      wake(a, 4, 1);
    }
  }
} else if (mode === 'ipc') {
  process.on('message', (m) => (m === 'end' ? process.disconnect() : process.send(m)));
}
