/**
 * Whether a process with this PID exists (signal 0 delivers nothing, it only checks). EPERM means
 * it exists as another user's process. A PID that is not a positive integer names no one process
 * (0 and negatives would address process groups), so it is never alive.
 */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
