/**
 * Counts better-sqlite3 calls made by anything in this process (genlog's store included) by
 * wrapping the shared `Statement` and `Database` prototypes for a while. Only for counting:
 * the wrappers add a call each, so never leave them on while timing.
 */
import Database from "better-sqlite3";

/** Calls seen while counting. */
export interface SqliteCalls {
  /** `Statement.get`, `all` and `iterate`: statements run that read. */
  reads: number;
  /** `Statement.run`. */
  runs: number;
  /** `Database.prepare`: statements compiled. */
  prepares: number;
}

type Method = (this: unknown, ...args: unknown[]) => unknown;
type Proto = Record<string, unknown>;

/** Runs `fn` while counting, then restores the prototypes and returns the counts. */
export async function countSqliteCalls(fn: () => Promise<void>): Promise<SqliteCalls> {
  const probe = new Database(":memory:");
  const statementProto = Object.getPrototypeOf(probe.prepare("SELECT 1")) as Proto;
  probe.close();
  const databaseProto = Database.prototype as unknown as Proto;
  const counts: SqliteCalls = { reads: 0, runs: 0, prepares: 0 };
  const restore: (() => void)[] = [];
  const wrap = (proto: Proto, name: string, kind: keyof SqliteCalls) => {
    const original = proto[name] as Method;
    proto[name] = function (this: unknown, ...args: unknown[]): unknown {
      counts[kind]++;
      return original.apply(this, args);
    };
    restore.push(() => (proto[name] = original));
  };
  wrap(statementProto, "get", "reads");
  wrap(statementProto, "all", "reads");
  wrap(statementProto, "iterate", "reads");
  wrap(statementProto, "run", "runs");
  wrap(databaseProto, "prepare", "prepares");
  try {
    await fn();
  } finally {
    for (const undo of restore.reverse()) undo();
  }
  return counts;
}
