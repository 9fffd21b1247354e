/**
 * Synchronous clean-ups that must run however this process ends: normal exit, an uncaught error,
 * or Ctrl-C. Async work cannot run in an 'exit' handler, so clean-ups here must be synchronous
 * (SIGKILL a child, rmSync a directory).
 */

const tasks = new Set<() => void>();
let installed = false;

function runAll(): void {
  for (const task of [...tasks]) {
    try {
      task();
    } catch {
      // A clean-up that fails must not stop the others.
    }
  }
  tasks.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      runAll();
      // Re-raise so the default handling (and the exit code a shell sees) still happens.
      process.kill(process.pid, signal);
    });
  }
}

/** Registers `task`; returns a function that unregisters it (call it once the thing is cleaned). */
export function onTerminate(task: () => void): () => void {
  install();
  tasks.add(task);
  return () => tasks.delete(task);
}
