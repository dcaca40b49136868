/**
 * The watchdog: one tiny `/bin/sh` per parent (its main thread), started
 * with the first Process (or the first broker), that outlives the parent
 * just long enough to SIGKILL the children still running when the parent
 * dies, however it dies (exit, throw, SIGTERM, SIGINT, SIGHUP, SIGKILL), and
 * to remove the parent's broker directory (see broker.ts). Python's
 * multiprocessing keeps a helper process for its own clean-up duty too (the
 * resource tracker).
 *
 * Protocol: the parent writes "+ <pid>" when a child starts, "- <pid>" when
 * it has exited, and "d <dir>" for a broker directory, on the watchdog's
 * stdin. When the parent is gone the kernel closes that pipe; `read` sees
 * end-of-file and the watchdog kills every pid still listed, removes the
 * directories (the socket in each, then the directory, which must then be
 * empty), then exits. It ignores SIGINT/SIGTERM/SIGHUP (a Ctrl+C in the
 * terminal reaches the whole process group: the parent decides whether to
 * die, the watchdog follows its stdin).
 *
 * A watchdog that dies while the parent lives (killed by someone) is
 * started again at once, and told every child and directory still listed
 * here: a parent whose watchdog was killed still leaves no child and no
 * directory when it dies later. (If it dies before its event loop has seen
 * the watchdog go, a child holding primitives still ends by itself: its
 * bridge thread polls its parent pid; and the next broker removes the
 * directory.) Three quick deaths in a row (a broken /bin/sh) and we stop.
 *
 * Why a process and not a thread in each child: a child whose main thread
 * is busy never sees its IPC channel close, so something else has to notice.
 * A watcher thread in every child costs a thread start (and slows the
 * child's start by a few ms); one shell for all children costs ~1 ms once.
 * Where there is no /bin/sh (or in a worker thread of the parent, whose end
 * must not kill the processes it started), children fall back to a watcher
 * thread of their own (`watch: true` in their boot message).
 *
 * The list holds only children not yet seen to exit, so a recycled pid is
 * never killed unless the parent died in the instant between a child's exit
 * and its 'exit' event.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

const SCRIPT = `trap '' INT TERM HUP
live=' '
dirs=''
while read -r op arg; do
  case "$op" in
    +) live="$live$arg " ;;
    -) case "$live" in *" $arg "*) live="\${live%% $arg *} \${live#* $arg }" ;; esac ;;
    d) dirs="$dirs$arg
" ;;
  esac
done
for pid in $live; do kill -9 "$pid" 2>/dev/null; done
printf '%s' "$dirs" | while IFS= read -r d; do rm -f "$d/s" 2>/dev/null; rmdir "$d" 2>/dev/null; done`;

let dog: ChildProcess | undefined;
let broken = !isMainThread || !existsSync('/bin/sh');
/** What the watchdog must know: told again to a new one if it dies. */
const children = new Set<number>();
const dirs = new Set<string>();
let quickDeaths = 0;

function start(): ChildProcess | undefined {
  if (broken) return undefined;
  try {
    const startedAt = Date.now();
    const d = spawn('/bin/sh', ['-c', SCRIPT], { stdio: ['pipe', 'ignore', 'ignore'] });
    d.on('error', () => {
      broken = true;
      if (dog === d) dog = undefined;
    });
    d.on('exit', () => {
      if (dog !== d) return;
      dog = undefined;
      // Killed while we live: start another and tell it everything.
      quickDeaths = Date.now() - startedAt < 1000 ? quickDeaths + 1 : 0;
      if (quickDeaths >= 3) broken = true;
      if (children.size > 0 || dirs.size > 0) dog = start();
    });
    d.stdin!.on('error', () => {});
    d.unref();
    (d.stdin as any).unref?.();
    for (const pid of children) d.stdin!.write(`+ ${pid}\n`);
    for (const dir of dirs) d.stdin!.write(`d ${dir}\n`);
    return d;
  } catch {
    broken = true;
    return undefined;
  }
}

/** The watchdog, started if need be; `fresh`: just started, so already told everything listed. */
function ensure(): { d: ChildProcess; fresh: boolean } | undefined {
  let fresh = false;
  if (!dog) {
    dog = start();
    fresh = dog !== undefined;
  }
  if (!dog?.stdin?.writable) return undefined;
  return { d: dog, fresh };
}

/** Register a started child; false if there is no watchdog (the child must watch for itself). */
export function watchChild(pid: number | undefined): boolean {
  if (pid === undefined || broken) return false;
  children.add(pid);
  const w = ensure();
  if (!w) {
    children.delete(pid);
    return false;
  }
  if (!w.fresh) w.d.stdin!.write(`+ ${pid}\n`);
  return true;
}

/** The child has exited: forget it. */
export function forgetChild(pid: number | undefined): void {
  if (pid === undefined || !children.delete(pid)) return;
  if (dog?.stdin?.writable) dog.stdin.write(`- ${pid}\n`);
}

/** A broker directory to remove when this process dies (a path with a newline is left to the next broker). */
export function watchDir(dir: string): void {
  if (broken || dir.includes('\n') || dirs.has(dir)) return;
  dirs.add(dir);
  const w = ensure();
  if (w && !w.fresh) w.d.stdin!.write(`d ${dir}\n`);
}
