/** A violation of a Go module rule. `code` is stable and machine-readable; `message` names the offending value. */
export class GoModError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'GoModError';
  }
}
