import { Queue } from '@conc/queue';
const q = new Queue();
const NAMES = Array.from({ length: 100 }, (_, i) => 'item' + i);
function run(kind, n) {
  const t = performance.now();
  for (let r = 0; r < n; r += 100) {
    for (let i = 0; i < 100; i++) q.putSync(kind === 'int' ? i : { id: i, name: NAMES[i] });
    for (let i = 0; i < 100; i++) q.getSync();
  }
  return (n / (performance.now() - t)) * 1000;
}
async function runAsync(n) {
  const t = performance.now();
  for (let r = 0; r < n; r += 100) {
    for (let i = 0; i < 100; i++) await q.put(i);
    for (let i = 0; i < 100; i++) await q.get();
  }
  return (n / (performance.now() - t)) * 1000;
}
for (let k = 0; k < 3; k++) { run('int', 200000); run('obj', 200000); }
const res = [];
for (let k = 0; k < 5; k++) res.push([run('int', 1e6), run('obj', 1e6), await runAsync(2e5)]);
const med = (i) => res.map((r) => r[i]).sort((a, b) => a - b)[2];
console.log(`int ${(med(0) / 1e6).toFixed(2)} M/s  obj ${(med(1) / 1e6).toFixed(2)} M/s  async int ${(med(2) / 1e6).toFixed(2)} M/s`);
