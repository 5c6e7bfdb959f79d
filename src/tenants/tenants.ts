/**
 * Tenants: who a request is billed to. With API keys configured a key decides the tenant and
 * nothing the client sends can override it; without keys (demo mode) the client names its tenant,
 * but only configured ids become metric label values, anything else is billed as `other`.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { z } from "zod";
import { parseUsdPico } from "../pricing/money.ts";
import embeddedTenants from "./tenants.json" with { type: "json" };

/** Calendar budget windows, in UTC. */
export const BUDGET_WINDOWS = ["hour", "day", "month"] as const;
/** A budget window from {@link BUDGET_WINDOWS}. */
export type BudgetWindow = typeof BUDGET_WINDOWS[number];

/** The tenant every unknown tenant id is billed as in demo mode. */
export const OTHER_TENANT = "other";
/** The tenant whose threshold and budgets `other` uses. */
export const DEFAULT_TENANT = "default";

/** One tenant as the server uses it. */
export interface Tenant {
  readonly id: string;
  readonly hourlyAlertThresholdUsd: number;
  /** Hard budgets in picodollars per calendar window; absent windows are unlimited. */
  readonly budgetsPico: Readonly<Partial<Record<BudgetWindow, bigint>>>;
  /** Requests per minute allowed, or undefined for no limit. */
  readonly rateLimitPerMinute?: number;
}

/** Who a request was authenticated as. */
export interface Principal {
  readonly tenant: Tenant;
  readonly admin: boolean;
  readonly keyName: string;
}

/** The loaded tenant directory. */
export interface TenantDirectory {
  /** Configured tenants (without `other`), in file order. */
  readonly tenants: readonly Tenant[];
  /** The tenant unknown ids are billed as: `other`, with the default tenant's settings. */
  readonly other: Tenant;
  /** True when at least one API key is configured: keys then decide the tenant. */
  readonly keysConfigured: boolean;
  /** The tenant to bill in demo mode for a client-supplied id: configured, or `other`. */
  byRequestedId(id: string | undefined): Tenant;
  /** The principal for a presented API key, or null. Compares against every key in constant time. */
  authenticate(key: string): Principal | null;
}

const usd = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const pico = parseUsdPico(value);
  if (pico === null) {
    ctx.addIssue({ code: "custom", message: "must be a non-negative USD amount" });
    return z.NEVER;
  }
  return pico;
});

const tenantSchema = z.object({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, "must be 1-64 of A-Z a-z 0-9 _ . -"),
  hourly_alert_threshold_usd: z.number().nonnegative().finite(),
  budgets: z.object({ hour: usd.optional(), day: usd.optional(), month: usd.optional() })
    .strict().default({}),
  rate_limit_per_minute: z.number().int().positive().optional(),
  api_keys: z.array(
    z.object({
      name: z.string().min(1),
      sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be a lowercase hex SHA-256 of the key"),
      admin: z.boolean().default(false),
    }).strict(),
  ).default([]),
}).strict();

const fileSchema = z.object({ tenants: z.array(tenantSchema).min(1) }).strict()
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    file.tenants.forEach((t, i) => {
      if (seen.has(t.id)) {
        ctx.addIssue({
          code: "custom",
          path: ["tenants", i, "id"],
          message: `duplicate "${t.id}"`,
        });
      }
      if (t.id === OTHER_TENANT) {
        ctx.addIssue({
          code: "custom",
          path: ["tenants", i, "id"],
          message: `"${OTHER_TENANT}" is reserved for unknown tenants`,
        });
      }
      seen.add(t.id);
    });
    if (!seen.has(DEFAULT_TENANT)) {
      ctx.addIssue({
        code: "custom",
        path: ["tenants"],
        message: `must include a "${DEFAULT_TENANT}" tenant`,
      });
    }
  });

/** A tenants file that does not validate; the message names the field. */
export class TenantsError extends Error {
  override name = "TenantsError";
}

/** SHA-256 of a key as lowercase hex: how keys are stored in the tenants file. */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** Validates parsed tenants-file JSON and builds the directory. Throws {@link TenantsError}. */
export function buildTenantDirectory(raw: unknown, source = "tenants"): TenantDirectory {
  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TenantsError(`${source}: ${issue.path.join(".") || "(root)"}: ${issue.message}`);
  }
  const tenants: Tenant[] = [];
  const keys: { digest: Buffer; principal: Principal }[] = [];
  for (const t of parsed.data.tenants) {
    const tenant: Tenant = {
      id: t.id,
      hourlyAlertThresholdUsd: t.hourly_alert_threshold_usd,
      budgetsPico: t.budgets,
      rateLimitPerMinute: t.rate_limit_per_minute,
    };
    tenants.push(tenant);
    for (const k of t.api_keys) {
      keys.push({
        digest: Buffer.from(k.sha256, "hex"),
        principal: { tenant, admin: k.admin, keyName: k.name },
      });
    }
  }
  const byId = new Map(tenants.map((t) => [t.id, t]));
  const fallback = byId.get(DEFAULT_TENANT)!;
  const other: Tenant = { ...fallback, id: OTHER_TENANT };
  return {
    tenants,
    other,
    keysConfigured: keys.length > 0,
    byRequestedId: (id) => (id !== undefined && byId.get(id)) || other,
    authenticate(key) {
      const digest = createHash("sha256").update(key, "utf8").digest();
      let found: Principal | null = null;
      // Every stored digest is compared, matched or not, so the time taken says nothing about
      // which key (if any) is close.
      for (const candidate of keys) {
        if (timingSafeEqual(candidate.digest, digest) && found === null) {
          found = candidate.principal;
        }
      }
      return found;
    },
  };
}

/** The tenants shipped with the server: the reference thresholds, no keys (demo mode). */
export function embeddedTenantDirectory(): TenantDirectory {
  return buildTenantDirectory(embeddedTenants, "src/tenants/tenants.json");
}

/** Reads and validates a tenants file; errors name the file and the field. */
export function loadTenantDirectory(path: string): TenantDirectory {
  let raw: unknown;
  try {
    raw = JSON.parse(Deno.readTextFileSync(path));
  } catch (error) {
    throw new TenantsError(`${path}: ${(error as Error).message}`);
  }
  return buildTenantDirectory(raw, path);
}
