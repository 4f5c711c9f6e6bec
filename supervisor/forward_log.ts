/** Forwards a worker child's output to the supervisor's stderr, tagged with the worker's name. */

const encoder = new TextEncoder();

/**
 * Returns the line handler of worker `name`: a JSON log record passes as it is
 * (it already names its worker); any other line is wrapped as a record of
 * `ppr.worker.output` (JSON format) or prefixed with `<name> | ` (pretty format).
 */
export function forwardLog(name: string, json: boolean): (line: string) => void {
  return (line: string) => {
    let out: string;
    if (line.startsWith("{")) out = line;
    else if (json) {
      out = JSON.stringify({
        "@timestamp": new Date().toISOString(),
        level: "INFO",
        message: line,
        logger: "ppr.worker.output",
        worker: name,
      });
    } else out = `${name} | ${line}`;
    Deno.stderr.writeSync(encoder.encode(out + "\n"));
  };
}
