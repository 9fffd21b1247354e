/**
 * Errors a person sees. Each says what went wrong, on which file or process, and what to do next,
 * in one line. `kind` lets the CLIs pick exit codes without parsing messages.
 */
export type EmbecodeErrorKind = 'usage' | 'locked' | 'corrupt' | 'missing' | 'io' | 'protocol' | 'internal';

export class EmbecodeError extends Error {
  readonly kind: EmbecodeErrorKind;

  constructor(kind: EmbecodeErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EmbecodeError';
    this.kind = kind;
  }
}

export function usageError(message: string): EmbecodeError {
  return new EmbecodeError('usage', message);
}
