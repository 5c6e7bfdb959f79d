/**
 * The ledger's SQLite file (Deno's built-in `node:sqlite`): opened in WAL mode, its parent folder
 * created, migrated to the latest schema in one transaction. WAL with `synchronous=NORMAL` makes a
 * committed transaction survive the process being killed (SIGKILL, a crash); `full` also survives
 * a power cut or an OS crash, at about 0.8 ms of blocking fsync per commit.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { dirname } from "node:path";
import {
  type Dialect,
  type Migration,
  MIGRATIONS,
  migrationSql,
  SCHEMA_MIGRATIONS_SQL,
  type SqlValue,
} from "./schema.ts";

/** A database the ledger can read with: the same calls for SQLite and PostgreSQL. */
export interface SqlDb {
  readonly dialect: Dialect;
  /** Rows of a query whose parameters are written `?`. */
  query(sql: string, params?: readonly SqlValue[]): Promise<Record<string, unknown>[]>;
  /** Rows of a query as arrays of values in select-list order (faster to read than objects). */
  values(sql: string, params?: readonly SqlValue[]): Promise<unknown[][]>;
  /** Runs a statement; resolves to the number of rows it changed. */
  execute(sql: string, params?: readonly SqlValue[]): Promise<number>;
}

/** A schema newer than this server's, or a migration that failed. */
export class LedgerSchemaError extends Error {
  override name = "LedgerSchemaError";
}

/** Opens (creating it and its folder if needed) and migrates a ledger file. */
export function openSqliteFile(
  path: string,
  sync: "normal" | "full",
  migrations: readonly Migration[] = MIGRATIONS,
): DatabaseSync {
  if (path !== ":memory:") Deno.mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path);
  try {
    db.exec("PRAGMA journal_mode = WAL");
    db.exec(`PRAGMA synchronous = ${sync === "full" ? "FULL" : "NORMAL"}`);
    // Another process (a second server on the same outbox, `deno task spend`) may hold the write
    // lock for a moment; wait for it rather than fail.
    db.exec("PRAGMA busy_timeout = 5000");
    migrateSqlite(db, migrations);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}

/** The schema version a database is at (0 for a new one). */
export function sqliteSchemaVersion(db: DatabaseSync): number {
  db.exec(SCHEMA_MIGRATIONS_SQL);
  const row = db.prepare("SELECT max(version) AS v FROM schema_migrations").get() as
    | { v: number | null }
    | undefined;
  return row?.v ?? 0;
}

function migrateSqlite(db: DatabaseSync, migrations: readonly Migration[]): void {
  // IMMEDIATE takes the write lock first, so two processes opening one new file migrate it once.
  db.exec("BEGIN IMMEDIATE");
  try {
    const current = sqliteSchemaVersion(db);
    const latest = migrations.at(-1)?.version ?? 0;
    if (current > latest) {
      throw new LedgerSchemaError(
        `ledger schema is at version ${current}, newer than this server's ${latest}`,
      );
    }
    const record = db.prepare(
      "INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES (?, ?, ?)",
    );
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      for (const statement of migrationSql(migration, "sqlite")) db.exec(statement);
      record.run(migration.version, migration.name, Date.now());
    }
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

/** Reads and statements on an open SQLite ledger, integers read exactly (as bigint). */
export function sqliteDb(db: DatabaseSync): SqlDb {
  const statements = new Map<string, StatementSync>();
  const prepared = (sql: string, arrays = false) => {
    const key = `${arrays}:${sql}`;
    let statement = statements.get(key);
    if (!statement) {
      statement = db.prepare(sql);
      statement.setReadBigInts(true);
      // Node's setReturnArrays() is in Deno's node:sqlite, though not yet in its bundled types.
      (statement as StatementSync & { setReturnArrays(on: boolean): void }).setReturnArrays(arrays);
      statements.set(key, statement);
    }
    return statement;
  };
  return {
    dialect: "sqlite",
    query: (sql, params = []) =>
      Promise.resolve(prepared(sql).all(...params) as Record<string, unknown>[]),
    values: (sql, params = []) =>
      Promise.resolve(prepared(sql, true).all(...params) as unknown as unknown[][]),
    execute: (sql, params = []) => Promise.resolve(Number(prepared(sql).run(...params).changes)),
  };
}
