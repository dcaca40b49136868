// A barrier is a meeting point: no thread starts the next phase of a
// computation until every thread has finished the current one. Here three
// threads smooth a row of temperatures in shared memory, each its own slice,
// phase after phase; a phase reads what the previous one wrote, so they meet
// at the barrier in between. The thread that gets index 0 reports the phase
// (Python's Barrier `action`, done by one of the threads).
//
//   barrier = threading.Barrier(3)       const barrier = new Barrier(3)
//   if barrier.wait() == 0:              if (barrier.waitSync() === 0)
//       report()                             report()
import { Barrier } from '@conc/barrier';
import { Thread } from '@conc/thread';

const WORKERS = 3;
const CELLS = 12;
const PHASES = 4;

/** One smoothing step of cells [from, to): each cell becomes the mean of itself and its neighbours. */
function smooth(src: Float64Array, dst: Float64Array, from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const left = src[Math.max(i - 1, 0)];
    const right = src[Math.min(i + 1, CELLS - 1)];
    dst[i] = (left + src[i] + right) / 3;
  }
}

function initial(): Float64Array {
  const row = new Float64Array(new SharedArrayBuffer(8 * CELLS * 2));
  row[0] = 900; // a hot left end
  return row;
}

export function worker(id: number, row: Float64Array, barrier: Barrier): void {
  const size = CELLS / WORKERS;
  for (let phase = 1; phase <= PHASES; phase++) {
    // the two halves of `row` take turns as source and destination
    const src = row.subarray(((phase + 1) % 2) * CELLS, ((phase + 1) % 2) * CELLS + CELLS);
    const dst = row.subarray((phase % 2) * CELLS, (phase % 2) * CELLS + CELLS);
    smooth(src, dst, id * size, (id + 1) * size);
    console.log(`Поток ${id}: фаза ${phase} посчитана`);
    if (barrier.waitSync({ timeout: 10_000 }) === 0) {
      const total = dst.reduce((a, b) => a + b, 0);
      console.log(
        `Фаза ${phase}: все ${WORKERS} потока у барьера, тепло слева ${dst[0].toFixed(1)}, всего ${total.toFixed(1)}`,
      );
    }
    barrier.waitSync({ timeout: 10_000 }); // wait for the report before the next phase
  }
}

export async function main(): Promise<void> {
  const row = initial();
  const barrier = new Barrier(WORKERS);
  const target = { module: import.meta.url, export: 'worker' };
  const threads = Array.from({ length: WORKERS }, (_, id) => new Thread({ target, args: [id, row, barrier] }).start());
  for (const t of threads) await t.join();

  // the same computation on one thread, for comparison
  const alone = initial();
  for (let phase = 1; phase <= PHASES; phase++) {
    const src = alone.subarray(((phase + 1) % 2) * CELLS, ((phase + 1) % 2) * CELLS + CELLS);
    const dst = alone.subarray((phase % 2) * CELLS, (phase % 2) * CELLS + CELLS);
    smooth(src, dst, 0, CELLS);
  }
  const last = (PHASES % 2) * CELLS;
  const same = row.subarray(last, last + CELLS).every((v, i) => v === alone[last + i]);
  console.log(`Результат совпадает с однопоточным: ${same ? 'да' : 'нет'}`);
}
