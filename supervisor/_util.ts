/** Private helpers of the supervisor. */

/**
 * Calls `onLine` with each line of a byte stream (without its newline), until
 * the stream ends. A final line without a newline is delivered too.
 */
export async function forEachLine(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let end: number;
    while ((end = buffer.indexOf("\n")) >= 0) {
      onLine(buffer.slice(0, end).replace(/\r$/, ""));
      buffer = buffer.slice(end + 1);
    }
  }
  if (buffer !== "") onLine(buffer);
}
