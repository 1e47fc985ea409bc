/**
 * Where CLI commands write, so that they can be run in-process with captured output.
 * @module
 */

/** The output streams of a CLI run. */
export interface CliIo {
  /** Results (NodeIds, paths, summaries). */
  stdout(text: string): void;
  /** Errors and diagnostics. */
  stderr(text: string): void;
}

/** The process's own stdout and stderr. */
export const processIo: CliIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
};
