/** File operations that a crash cannot leave half done: atomic writes, an atomically replaced link, a lock between processes. */

const encoder = new TextEncoder();

function parts(path: string): { dir: string; base: string } {
  const slash = path.lastIndexOf("/");
  return slash < 0
    ? { dir: ".", base: path }
    : { dir: path.slice(0, slash) || "/", base: path.slice(slash + 1) };
}

/** A hidden name beside `path` for what will replace it: never a name the recorder writes for real. */
function tempBeside(path: string): string {
  const { dir, base } = parts(path);
  return `${dir}/.${base}.${crypto.randomUUID().slice(0, 8)}.tmp`;
}

/** Flushes a directory's entries (a rename in it) to disk. */
async function syncDir(dir: string): Promise<void> {
  const handle = await Deno.open(dir, { read: true });
  try {
    await handle.sync();
  } finally {
    handle.close();
  }
}

/**
 * Writes `text` to `path` so that `path` is at every moment either its old content or all of
 * the new: a temporary file in the same directory, written and flushed to disk (fsync), then
 * renamed over `path`, and the directory flushed. A crash can leave only a hidden temporary
 * file (`.<name>.<random>.tmp`), never a partial `path`.
 *
 * @example
 * ```ts
 * import { strict as assert } from "node:assert";
 * import { writeFileAtomic } from "./files.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await writeFileAtomic(`${dir}/summary.json`, JSON.stringify({ total: 2 }));
 * assert.equal(await Deno.readTextFile(`${dir}/summary.json`), '{"total":2}');
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const temp = tempBeside(path);
  const bytes = encoder.encode(text);
  try {
    const file = await Deno.open(temp, { write: true, createNew: true, mode: 0o644 });
    try {
      for (let written = 0; written < bytes.length;) {
        written += await file.write(bytes.subarray(written));
      }
      await file.sync();
    } finally {
      file.close();
    }
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw namingPath(error, path);
  }
  await syncDir(parts(path).dir);
}

/**
 * `error` with `path` in its message: the operating system's own ("No space left on device
 * (os error 28)") says what, not where. The error's class stays (`Deno.errors.NotFound`, ...).
 */
function namingPath(error: unknown, path: string): unknown {
  if (error instanceof Error && !error.message.includes(path)) {
    error.message = `cannot write ${path}: ${error.message}`;
  }
  return error;
}

/**
 * Points the symbolic link `link` at `target`, replacing any link there in one step (a new
 * link renamed over the old one): readers never find it missing.
 */
export async function replaceLink(link: string, target: string): Promise<void> {
  const temp = tempBeside(link);
  await Deno.symlink(target, temp);
  try {
    await Deno.rename(temp, link);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}

/**
 * Runs `task` holding an exclusive lock (`flock`) on `lockFile`: one holder at a time among
 * every process on this machine, across containers sharing the directory too.
 */
export async function withFileLock<T>(lockFile: string, task: () => Promise<T>): Promise<T> {
  const file = await Deno.open(lockFile, { write: true, create: true, mode: 0o644 });
  try {
    await file.lock(true);
    return await task();
  } finally {
    // Closing the file releases the lock.
    file.close();
  }
}
