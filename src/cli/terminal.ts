/**
 * What the CLI writes, and how it reaches a terminal. Stored values are attacker-controlled
 * (anyone who can append chooses a record's metadata; anyone who can write the database
 * chooses everything), so human output never lets one of them drive the terminal: control
 * characters are shown as escapes. Writes report their failure (a full disk, a closed pipe)
 * as a typed error instead of a stack trace, and colours and progress bars appear only on a
 * terminal that wants them.
 */
import { createRequire } from "node:module";
import { styleText } from "node:util";
import type * as CliProgress from "cli-progress";
import { GenlogError } from "../errors.js";

/** cli-progress, loaded only when a bar is drawn: most runs never need it. */
const loadProgress = () => createRequire(import.meta.url)("cli-progress") as typeof CliProgress;

/**
 * Characters a terminal may act on instead of showing: C0 controls (ESC starts CSI and OSC
 * sequences, CR rewrites the line), DEL, C1 controls (U+009B is a one-byte CSI), and the
 * invisible bidirectional and line-separating marks that reorder or split what is shown.
 */
const UNSAFE =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** The same, less the C0 controls that JSON.stringify already escapes. */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function hexEscape(c: string, json: boolean): string {
  const code = c.charCodeAt(0);
  return !json && code < 0x100
    ? `\\x${code.toString(16).padStart(2, "0")}`
    : `\\u${code.toString(16).padStart(4, "0")}`;
}

/**
 * A stored or user-given value as one harmless line: every character a terminal could act
 * on is written as `\xHH` or `\uHHHH` (a newline too, so a value cannot fake a line of its own).
 *
 * @example
 * escapeForTerminal("a\u001b[2Jb") // "a\\x1b[2Jb"
 */
export function escapeForTerminal(value: string): string {
  return value.replace(UNSAFE, (c) => hexEscape(c, false));
}

/**
 * JSON text made safe to show: the characters JSON.stringify leaves raw but a terminal acts
 * on become `\uHHHH` escapes, which inside a JSON string mean the same character, so the
 * text still parses to the same value.
 */
export function escapeJsonForTerminal(json: string): string {
  return json.replace(UNSAFE_IN_JSON, (c) => hexEscape(c, true));
}

/**
 * JSON text for stdout: unchanged when it goes to a pipe or a file (the exact bytes, which a
 * script may hash), made safe by {@link escapeJsonForTerminal} when a person reads it.
 */
export function jsonForStdout(json: string): string {
  return process.stdout.isTTY === true ? escapeJsonForTerminal(json) : json;
}

/** Writes to stdout; resolves once written, rejects with `GENLOG_E_IO` when it cannot be. */
export function writeOut(text: string): Promise<void> {
  return writeTo(process.stdout, "stdout", text);
}

/** Writes a line of text to stdout (a final newline is added when missing). */
export function printLine(text: string): Promise<void> {
  return writeOut(text.endsWith("\n") ? text : `${text}\n`);
}

/**
 * Writes a message for people to stderr. Best effort: when stderr itself cannot be written
 * there is nowhere left to say so, and the exit status still tells.
 */
export function say(text: string): void {
  process.stderr.write(text.endsWith("\n") ? text : `${text}\n`);
}

function writeTo(stream: NodeJS.WriteStream, name: string, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(text, (err) => {
      if (err === undefined || err === null) resolve();
      else reject(writeError(err, name));
    });
  });
}

/** A failed write as the CLI reports it. */
export function writeError(err: Error, target: string): GenlogError {
  const code = (err as NodeJS.ErrnoException).code;
  const reason = code === undefined ? err.message : `${describeErrno(code)} (${code})`;
  return new GenlogError("GENLOG_E_IO", `cannot write to ${target}: ${reason}`, {
    cause: err,
    details: { target, ...(code !== undefined ? { errno: code } : {}) },
  });
}

const ERRNO_TEXT: Record<string, string> = {
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  ENOENT: "no such file or directory",
  ENOTDIR: "a part of the path is not a directory",
  EISDIR: "it is a directory",
  EEXIST: "a file of that name exists",
  EIO: "input/output error",
  EPIPE: "the reader went away",
  ERR_STREAM_DESTROYED: "the stream was closed by an earlier error",
};

/** A few words for an errno code, for one-line messages. */
export function describeErrno(code: string): string {
  return ERRNO_TEXT[code] ?? "the system refused";
}

/** True when the failure is a reader that went away (`genlog export | head`): not ours. */
export function isReaderGone(e: unknown): boolean {
  return e instanceof GenlogError && e.code === "GENLOG_E_IO" && e.details.errno === "EPIPE";
}

/**
 * Whether to colour what goes to a stream: only a terminal, and one whose environment wants
 * colour (`hasColors` honours `NO_COLOR`, `NODE_DISABLE_COLORS`, `FORCE_COLOR` and `TERM=dumb`).
 */
export function wantsColour(stream: NodeJS.WriteStream): boolean {
  return stream.isTTY === true && typeof stream.hasColors === "function" && stream.hasColors();
}

/** `text` in a colour when `stream` wants colour, else as is. */
export function paint(
  stream: NodeJS.WriteStream,
  format: "red" | "green" | "bold",
  text: string,
): string {
  return wantsColour(stream)
    ? styleText(format === "bold" ? "bold" : [format, "bold"], text)
    : text;
}

/** Progress of long work, shown on stderr while it runs. */
export interface Progress {
  update(done: number, total: number): void;
  /** Removes the bar, leaving the line clean for what follows. */
  stop(): void;
}

/**
 * A progress bar on stderr, or nothing at all when stderr is not a terminal or the terminal
 * cannot move the cursor (`TERM=dumb`): a log file or a dumb console must not fill up with
 * redraws.
 */
export function progressBar(label: string): Progress {
  const stream = process.stderr;
  if (stream.isTTY !== true || process.env.TERM === "dumb") {
    return { update: () => undefined, stop: () => undefined };
  }
  const { SingleBar, Presets } = loadProgress();
  const bar = new SingleBar(
    {
      format: `${label} [{bar}] {value}/{total}`,
      stream,
      // Erased when done: the report that follows starts on a clean line.
      clearOnComplete: true,
    },
    Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total) {
      if (!started) {
        bar.start(total, done);
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(done);
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/** `1 entry`, `2 entries`: counts in human output. */
export function count(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}
