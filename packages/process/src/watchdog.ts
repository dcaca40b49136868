/**
 * The watchdog: one tiny `/bin/sh` per parent (its main thread), started
 * with the first Process, that outlives the parent just long enough to
 * SIGKILL the children still running when the parent dies, however it dies
 * (exit, throw, SIGKILL). Python's multiprocessing keeps a helper process
 * for its own clean-up duty too (the resource tracker).
 *
 * Protocol: the parent writes "+ <pid>" when a child starts and "- <pid>"
 * when it has exited, on the watchdog's stdin. When the parent is gone the
 * kernel closes that pipe; `read` sees end-of-file and the watchdog kills
 * every pid still listed, then exits. It ignores SIGINT/SIGTERM/SIGHUP (a
 * Ctrl+C in the terminal reaches the whole process group: the parent decides
 * whether to die, the watchdog follows its stdin).
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
while read -r op pid; do
  case "$op" in
    +) live="$live$pid " ;;
    -) case "$live" in *" $pid "*) live="\${live%% $pid *} \${live#* $pid }" ;; esac ;;
  esac
done
for pid in $live; do kill -9 "$pid" 2>/dev/null; done`;

let dog: ChildProcess | undefined;
let broken = !isMainThread || !existsSync('/bin/sh');

function start(): ChildProcess | undefined {
  if (broken) return undefined;
  try {
    const d = spawn('/bin/sh', ['-c', SCRIPT], { stdio: ['pipe', 'ignore', 'ignore'] });
    d.on('error', () => {
      broken = true;
      dog = undefined;
    });
    d.on('exit', () => {
      if (dog === d) dog = undefined;
    });
    d.stdin!.on('error', () => {});
    d.unref();
    (d.stdin as any).unref?.();
    return d;
  } catch {
    broken = true;
    return undefined;
  }
}

/** Register a started child; false if there is no watchdog (the child must watch for itself). */
export function watchChild(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  dog ??= start();
  if (!dog?.stdin?.writable) return false;
  dog.stdin.write(`+ ${pid}\n`);
  return true;
}

/** The child has exited: forget it. */
export function forgetChild(pid: number | undefined): void {
  if (pid !== undefined && dog?.stdin?.writable) dog.stdin.write(`- ${pid}\n`);
}
