/**
 * Who may see the live page's data. In demo mode (no API keys) everyone sees every tenant, like
 * the rest of the API; once keys exist, an admin key sees every tenant and a tenant key only its
 * own. The key travels in a request header, never in a URL.
 */
import { presentedApiKey } from "../http/request.ts";
import type { TenantDirectory } from "../tenants/tenants.ts";

/** What a caller may see: every tenant (`admin`), or the one named. */
export interface LiveAccess {
  readonly admin: boolean;
  /** The caller's own tenant; absent for an admin in demo mode. */
  readonly tenant?: string;
}

/** Decides access from request headers; null means a key is needed (401). */
export type LiveAuthorizer = (headers: Headers) => LiveAccess | null;

/** The authorizer for a tenant directory: open in demo mode, else by the presented key. */
export function authorizeWithTenants(directory: TenantDirectory): LiveAuthorizer {
  return (headers) => {
    if (!directory.keysConfigured) return { admin: true };
    const key = presentedApiKey(headers);
    const principal = key === undefined ? null : directory.authenticate(key);
    if (!principal) return null;
    return { admin: principal.admin, tenant: principal.tenant.id };
  };
}

/**
 * The tenant a caller's view is limited to: the one asked for (admins may ask for any), or the
 * caller's own for a tenant key. `forbidden` when a tenant key asks for another tenant.
 */
export function scopeFor(
  access: LiveAccess,
  requested: string | undefined,
): { tenant?: string } | "forbidden" {
  if (access.admin) return { tenant: requested };
  if (requested !== undefined && requested !== access.tenant) return "forbidden";
  return { tenant: access.tenant };
}
