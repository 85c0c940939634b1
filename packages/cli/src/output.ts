/**
 * Where the CLI writes: human progress to stderr, the result to stdout (a rollout id, or JSON with
 * --json), so `ID=$(runway rollout create …)` works in a pipeline.
 */
export interface Output {
  json: boolean;
  info(line: string): void;
  result(value: unknown, plain: string): void;
}

export function output(json: boolean, streams = { out: process.stdout, err: process.stderr }): Output {
  return {
    json,
    info: (line) => void streams.err.write(line + "\n"),
    result: (value, plain) => {
      if (json) streams.out.write(JSON.stringify(value) + "\n");
      else if (plain) streams.out.write(plain + "\n");
    },
  };
}
