/** Types of scripts/postgres.mjs, for the tests that start a server of their own. */
export interface ThrowawayPostgres {
  /** `postgres://genlog@127.0.0.1:<port>/postgres` */
  url: string;
  port: number;
  /** Shuts the server down and deletes its cluster. */
  stop(): Promise<void>;
  /** Shuts the server down (fast: open transactions rolled back) and starts it again. */
  restart(): Promise<void>;
}
export function postgresBin(): string | undefined;
export function startPostgres(): Promise<ThrowawayPostgres>;
