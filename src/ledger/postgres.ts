/**
 * The ledger in PostgreSQL, for several replicas. A row is first committed to a local SQLite
 * outbox (the same group commit as the SQLite ledger, so the response waits only for local
 * disk); a shipper sends the outbox to PostgreSQL in batches (`INSERT … ON CONFLICT (request_id)
 * DO NOTHING`) and deletes a batch from the outbox only after PostgreSQL committed it. A database
 * outage therefore delays rows and loses none; a crash between the two commits ships the batch
 * again, which the primary key makes harmless.
 *
 * Reads go to PostgreSQL only: every replica answers the same, and a row becomes visible there
 * once shipped (normally within milliseconds; during an outage, when the database is back).
 */
import postgres from "postgres";
import type { DatabaseSync, StatementSync } from "node:sqlite";
import type { LedgerStoreConfig } from "../config.ts";
import type { Ledger, LedgerOptions } from "./types.ts";
import {
  COLUMNS,
  MIGRATIONS,
  migrationSql,
  SCHEMA_MIGRATIONS_SQL,
  type SqlValue,
} from "./schema.ts";
import { openSqliteFile, type SqlDb, sqliteDb } from "./sqlite.ts";
import { commitsOnWorker, GroupCommitWriter, type RowWriter, WorkerWriter } from "./writer.ts";
import { recordById, recordsPage, scanChunks, spendReport, windowSpend } from "./queries.ts";
import { scheduleRetention } from "./retention.ts";
import { liveSummary } from "./live.ts";

/** Rows per shipped batch: 30 columns × 500 rows stays well under PostgreSQL's 65,535 parameters. */
export const SHIP_BATCH_ROWS = 500;
/** Longest wait between retries while PostgreSQL is unreachable. */
export const MAX_SHIP_BACKOFF_MS = 2_000;
/** How long `close()` keeps trying to ship the outbox before leaving it for the next start. */
const CLOSE_SHIP_MS = 5_000;
/** Any fixed number: the advisory lock under which one replica migrates while the others wait. */
const MIGRATION_LOCK = 7_215_203_613;

type PostgresConfig = Extract<LedgerStoreConfig, { kind: "postgres" }>;
type Sql = ReturnType<typeof postgres>;

/** Brings a PostgreSQL database to the latest schema, one replica at a time. */
export async function migratePostgres(sql: Sql, migrations = MIGRATIONS): Promise<void> {
  await sql.begin(async (tx: postgres.TransactionSql) => {
    await tx.unsafe(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
    await tx.unsafe(SCHEMA_MIGRATIONS_SQL);
    const [{ v }] = await tx.unsafe("SELECT coalesce(max(version), 0) AS v FROM schema_migrations");
    const current = Number(v);
    const latest = migrations.at(-1)?.version ?? 0;
    if (current > latest) {
      throw new Error(`ledger schema is at version ${current}, newer than this server's ${latest}`);
    }
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      for (const statement of migrationSql(migration, "postgres")) await tx.unsafe(statement);
      await tx.unsafe(
        "INSERT INTO schema_migrations (version, name, applied_at_ms) VALUES ($1, $2, $3)",
        [migration.version, migration.name, Date.now()],
      );
    }
  });
}

/** Opens a PostgreSQL ledger: its connection pool and (unless read-only) its outbox and shipper. */
export function openPostgresLedger(config: PostgresConfig, options: LedgerOptions = {}): Ledger {
  const sql = postgres(config.url, {
    max: 4,
    onnotice: () => {},
    connect_timeout: 5,
    // A half-open connection must not stall the shipper forever.
    query_timeout: 30,
    // The pool's own reconnect delay grows to 20 s by default; after an outage rows should flow
    // again within a couple of seconds of the database's return.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, MAX_SHIP_BACKOFF_MS / 1000),
    fetch_types: false,
    connection: { application_name: "inference-cost-tracker" },
  });
  // Migrated lazily and retried: the server starts (and records into its outbox) while the
  // database is down.
  let migrated: Promise<void> | undefined;
  const schemaReady = () => {
    migrated ??= migratePostgres(sql).catch((error) => {
      migrated = undefined;
      throw error;
    });
    return migrated;
  };
  const db: SqlDb = {
    dialect: "postgres",
    async query(text, params = []) {
      await schemaReady();
      return [...await sql.unsafe(text, params as SqlValue[] as never[])];
    },
    async values(text, params = []) {
      await schemaReady();
      return await sql.unsafe(text, params as SqlValue[] as never[]).values();
    },
    async execute(text, params = []) {
      await schemaReady();
      return (await sql.unsafe(text, params as SqlValue[] as never[])).count;
    },
  };
  const outbox = options.readOnly ? null : new Outbox(config, sql, schemaReady, options);
  const retention = scheduleRetention(options, db);
  return {
    store: "postgres",
    append: (row) =>
      outbox ? outbox.writer.append(row) : Promise.reject(new Error("ledger opened read-only")),
    report: (query) => spendReport(db, query),
    page: (query) => recordsPage(db, query),
    record: (id) => recordById(db, id),
    scan: (filter) => scanChunks(db, filter),
    summary: (query) => liveSummary(db, query),
    async windowSpend(nowMs) {
      if (!outbox) return windowSpend(db, nowMs);
      // Ship first, so PostgreSQL holds (nearly) everything; rows still local are added from the
      // outbox. A batch shipped but not yet deleted in this instant is counted twice: a budget
      // errs on the safe side.
      await outbox.drain(CLOSE_SHIP_MS);
      const [remote, local] = await Promise.all([
        windowSpend(db, nowMs),
        windowSpend(sqliteDb(outbox.file), nowMs),
      ]);
      const merged = new Map(remote);
      for (const [tenant, w] of local) {
        const r = merged.get(tenant);
        merged.set(
          tenant,
          r ? { hour: r.hour + w.hour, day: r.day + w.day, month: r.month + w.month } : w,
        );
      }
      return merged;
    },
    prune: retention.prune,
    backlog: () => outbox?.backlog ?? 0,
    async close() {
      retention.stop();
      await outbox?.close();
      await sql.end({ timeout: 5 });
    },
  };
}

/** The local outbox and its shipper. */
class Outbox {
  readonly file: DatabaseSync;
  readonly writer: RowWriter;
  backlog: number;
  readonly #take: StatementSync;
  readonly #delete: StatementSync;
  #stopped = false;
  /** Set by every commit, cleared when the shipper looks: no commit is missed between looks. */
  #committed = false;
  /** Resolves the idle wait; called on every commit. */
  #wake: (() => void) | undefined;
  /** Ends a backoff pause early; called on close. */
  #stopWaiting: (() => void) | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #loop: Promise<void>;

  constructor(
    config: PostgresConfig,
    private readonly sql: Sql,
    private readonly schemaReady: () => Promise<void>,
    private readonly options: LedgerOptions,
  ) {
    this.file = openSqliteFile(config.outboxPath, config.sync);
    this.#take = this.file.prepare(
      `SELECT rowid AS outbox_rowid, ${COLUMNS.join(", ")} FROM ledger ORDER BY rowid LIMIT ?`,
    );
    this.#take.setReadBigInts(true);
    this.#delete = this.file.prepare("DELETE FROM ledger WHERE rowid <= ?");
    this.backlog = Number(
      (this.file.prepare("SELECT count(*) AS n FROM ledger").get() as { n: number }).n,
    );
    const onCommit = (added: number) => {
      // The worker's report of a commit may come after the shipper has already taken (and even
      // shipped) those rows on this thread's connection: the count is then briefly high, and the
      // next take that finds the outbox empty sets it right.
      this.#setBacklog(this.backlog + added);
      this.#committed = true;
      const wake = this.#wake;
      this.#wake = undefined;
      wake?.();
    };
    if (commitsOnWorker(config.outboxPath)) {
      this.writer = new WorkerWriter(config.outboxPath, config.sync, options.metrics, onCommit);
      // The writer's checkpoint worker copies the log: the shipper's deletes on this thread leave
      // it to that rather than checkpoint on the event loop (see checkpoint_worker.ts).
      this.file.exec("PRAGMA wal_autocheckpoint = 0");
    } else {
      this.writer = new GroupCommitWriter(this.file, options.metrics, onCommit, config.outboxPath);
    }
    this.#setBacklog(this.backlog);
    this.#loop = this.#run();
  }

  /** Ships batches until the outbox is empty or `timeoutMs` passed; never throws. */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.backlog > 0 && Date.now() < deadline) {
      try {
        await this.#shipBatch();
      } catch {
        return;
      }
    }
  }

  /** Stops the shipper after one last attempt to empty the outbox. */
  async close(): Promise<void> {
    await this.writer.close();
    this.#stopped = true;
    this.#wake?.();
    this.#stopWaiting?.();
    await this.#loop;
    await this.drain(CLOSE_SHIP_MS);
    this.file.close();
  }

  #setBacklog(n: number): void {
    this.backlog = n;
    this.options.metrics?.outboxBacklog.set(n);
  }

  /** Ships one batch; resolves to the number of rows taken from the outbox. */
  async #shipBatch(): Promise<number> {
    this.#committed = false;
    const rows = this.#take.all(SHIP_BATCH_ROWS) as Record<string, SqlValue>[];
    if (rows.length === 0) {
      this.#setBacklog(0);
      return 0;
    }
    await this.schemaReady();
    await this.sql`INSERT INTO ledger ${this.sql(rows, COLUMNS as unknown as string[])}
      ON CONFLICT (request_id) DO NOTHING`;
    const last = rows[rows.length - 1].outbox_rowid as bigint;
    const deleted = Number(this.#delete.run(last).changes);
    this.options.metrics?.rowsShipped.inc(rows.length);
    this.#setBacklog(Math.max(0, this.backlog - deleted));
    return rows.length;
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#stopped) {
      let taken = 0;
      try {
        taken = await this.#shipBatch();
        if (failures > 0) {
          this.options.logger?.info("ledger database reachable again", { backlog: this.backlog });
        }
        failures = 0;
      } catch (error) {
        if (failures === 0) {
          this.options.logger?.warn("ledger database unreachable; rows wait in the outbox", {
            error: String(error),
            backlog: this.backlog,
          });
        }
        failures++;
      }
      if (this.#stopped) return;
      if (failures > 0) {
        await this.#pause(Math.min(MAX_SHIP_BACKOFF_MS, 50 * 2 ** failures));
      } else if (taken === 0 && !this.#committed) {
        // The outbox was empty and nothing was committed since: idle until a commit (or close)
        // wakes the shipper. (Deciding by an empty take, not by the count, keeps a count that is
        // briefly off from spinning this loop without ever yielding to the event loop.)
        await new Promise<void>((resolve) => this.#wake = resolve);
      }
    }
  }

  /** Waits `ms`, or less if the outbox is closed meanwhile. */
  #pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.#timer = setTimeout(() => {
        this.#stopWaiting = undefined;
        resolve();
      }, ms);
      this.#stopWaiting = () => {
        clearTimeout(this.#timer);
        resolve();
      };
    });
  }
}
