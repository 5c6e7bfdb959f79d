/**
 * One HTTP exchange with an upstream provider, whatever its protocol: a child CLIENT span, the
 * request carrying the provider's key and that span's `traceparent` (never the client's
 * credentials), the UPSTREAM_TIMEOUT_MS deadline, and every failure classified into the closed set
 * of upstream error kinds. Protocol details (paths, headers, bodies, usage) live in each protocol
 * folder's upstream.ts (openai/, anthropic/) behind {@link UpstreamProtocol}.
 */
import {
  context,
  INVALID_TRACEID,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import { ATTR, type UpstreamErrorKind } from "../telemetry/names.ts";
import { clearDeadline, type Deadline, setDeadline } from "../http/deadlines.ts";
import type { TokenUsage } from "../pricing/pricing.ts";
import type { Protocol, Provider } from "../providers/providers.ts";
import type { SseEvent } from "./sse.ts";
import type { ScanRules } from "./json_scan.ts";
import type { SseScanner } from "./sse_scan.ts";

/** An upstream call that failed, with its kind from the closed set. */
export class UpstreamError extends Error {
  override name = "UpstreamError";
  constructor(
    readonly kind: UpstreamErrorKind,
    message: string,
    /** The upstream's HTTP status, for `status_4xx` / `status_5xx`. */
    readonly status?: number,
    /** The upstream's error body, parsed as JSON when it was JSON. */
    readonly body?: unknown,
    /** The upstream's response headers, for `status_4xx` (e.g. `retry-after`). */
    readonly headers?: Headers,
  ) {
    super(message);
  }
}

/** The client went away while the upstream call was in flight. */
export class ClientGone extends Error {
  override name = "ClientGone";
}

/** A non-streamed upstream answer, read for what the cost path needs. */
export interface Completion {
  /** The provider's usage, when it reported a valid one. */
  readonly usage?: TokenUsage;
  /** Generated text (content, reasoning, tool arguments), for a local count when usage is absent. */
  readonly text: string;
  /** The model the provider says answered. */
  readonly model?: string;
}

/** What one stream event means to the gateway. */
export interface StreamStep {
  /**
   * What the client gets instead of the event: a frame, or null to drop it. Absent: the event as
   * the provider sent it, byte for byte.
   */
  readonly frame?: string | null;
  /** Generated text the event carries, counted locally when the provider reports no usage. */
  readonly text: string;
  /** The protocol's end marker: the response is complete. */
  readonly final?: boolean;
  /** The provider reported an error inside the stream (the frame forwards it to the client). */
  readonly errorMessage?: string;
}

/** What the relay does with an event the byte scan has seen ({@link StreamReader.triage}). */
export const Triage = {
  /** Forward it as received; the text the scan found in it counts. */
  forward: 0,
  /** Forward it as received; it carries no generated text. */
  forwardNoText: 1,
  /** Read it in full with {@link StreamReader.step}. */
  read: 2,
  /** Forward it as received: it is the end marker. */
  end: 3,
  /** Forward it without the top-level `null` member of key {@link StreamReader.droppedNull}. */
  forwardWithoutNull: 4,
} as const;
/** One of {@link Triage}'s values. */
export type Triage = typeof Triage[keyof typeof Triage];

/**
 * Reads one streamed response, keeping the usage it reports. The relay scans each event's bytes
 * with the reader's {@link rules}; {@link triage} then says whether the scan is enough (most
 * events: text deltas, forwarded untouched) or the event must be read in full by {@link step}
 * (the events that carry usage, a stop reason, an error, or anything the scan is unsure of).
 */
export interface StreamReader {
  /** What the byte scan looks for in each event. */
  readonly rules: ScanRules;
  /** The key id {@link Triage.forwardWithoutNull} removes. */
  readonly droppedNull: number;
  /** Decides from the scan of one event (one with data) what the relay does with it. */
  triage(scan: SseScanner): Triage;
  /** Interprets one event; throws {@link UpstreamError} (`protocol`) on an unreadable one. */
  step(event: SseEvent): StreamStep;
  /** The provider's usage of the whole response, once reported. */
  usage(): TokenUsage | undefined;
  /** Input usage reported before the end (Anthropic's `message_start`), output not included. */
  inputUsage(): TokenUsage | undefined;
  /** True once the provider said the generation finished (a stop reason). */
  finished(): boolean;
  model(): string | undefined;
}

/** One wire protocol's upstream side. */
export interface UpstreamProtocol {
  readonly protocol: Protocol;
  /** Path appended to the provider's base URL. */
  readonly path: string;
  /** Protocol headers: the provider's key, version headers passed on from the client. */
  headers(provider: Provider, client: Headers): Record<string, string>;
  /** The client's body as sent upstream: the upstream model name, usage asked for in streams. */
  body(raw: Readonly<Record<string, unknown>>, upstreamModel: string): string;
  /** Reads a non-streamed answer; throws {@link UpstreamError} (`protocol`) when unreadable. */
  readCompletion(text: string): Completion;
  /** A reader for one streamed answer. */
  streamReader(clientAskedUsage: boolean): StreamReader;
  /** The `type`, `message`, `code` and `param` of an upstream error body, when it has them. */
  errorFields(body: unknown): UpstreamErrorFields;
}

/** Fields of an upstream error body. */
export interface UpstreamErrorFields {
  readonly type?: string;
  readonly message?: string;
  readonly code?: string | number | null;
  readonly param?: string | null;
}

/** What an exchange needs. */
export interface ExchangeOptions {
  readonly tracer: Tracer;
  /** The request's span; the upstream call becomes its child (of the active context without). */
  readonly parent?: Span;
  /** `gen_ai.operation.name` of the call (`chat`, `embeddings`, …); the span is named after it. */
  readonly operation: string;
  readonly provider: Provider;
  /** The model asked for, or for a call about a stored object its id. */
  readonly upstreamModel: string;
  /** Path (and query) appended to the provider's base URL. */
  readonly path: string;
  /** POST unless given; GET and DELETE send no body. */
  readonly method?: "POST" | "GET" | "DELETE";
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly stream: boolean;
  readonly timeoutMs: number;
  /** Aborted when the client goes away. */
  readonly clientSignal: AbortSignal;
  /**
   * Whether to write `traceparent` here. False when the runtime's own fetch instrumentation
   * (Deno with OTEL_DENO=true) injects it for its fetch span, a child of this one: two values
   * would be joined into one invalid header.
   */
  readonly injectTraceparent: boolean;
}

/** Parses an upstream body or event as JSON; throws {@link UpstreamError} (`protocol`) if it is not. */
export function parseUpstreamJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UpstreamError("protocol", `upstream sent ${what} that is not JSON`);
  }
}

/** Replaces every occurrence of the provider's key in `text` (an upstream may echo it). */
export function redactKey(text: string, provider: Provider): string {
  const key = provider.apiKey?.reveal();
  return key ? text.split(key).join("[redacted]") : text;
}

const servers = new Map<string, { readonly hostname: string; readonly port: number }>();

/** The host and port of a provider's base URL, parsed once per URL (the set is configured). */
function serverOf(baseUrl: string): { readonly hostname: string; readonly port: number } {
  let server = servers.get(baseUrl);
  if (!server) {
    const url = new URL(baseUrl);
    const port = url.port ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
    servers.set(baseUrl, server = { hostname: url.hostname, port });
  }
  return server;
}

/** One request to an upstream provider and its child span. */
export class UpstreamExchange {
  readonly span: Span;
  readonly #options: ExchangeOptions;
  readonly #controller = new AbortController();
  // On the shared sweep, not a timer per request: a setTimeout/clearTimeout pair is ~1.5 µs.
  #deadline?: Deadline;
  #timedOut = false;
  #ended = false;

  constructor(options: ExchangeOptions) {
    this.#options = options;
    const { hostname, port } = serverOf(options.provider.baseUrl);
    this.span = options.tracer.startSpan(
      `${options.operation} ${options.upstreamModel}`,
      {
        kind: SpanKind.CLIENT,
        attributes: {
          [ATTR.operationName]: options.operation,
          [ATTR.providerName]: options.provider.name,
          [ATTR.requestModel]: options.upstreamModel,
          [ATTR.serverAddress]: hostname,
          [ATTR.serverPort]: port,
        },
      },
      options.parent ? trace.setSpan(context.active(), options.parent) : context.active(),
    );
    if (options.clientSignal.aborted) this.#controller.abort();
    options.clientSignal.addEventListener("abort", () => this.#controller.abort(), { once: true });
  }

  /**
   * Sends the request and resolves with a 2xx response. Throws {@link UpstreamError} (`connect`,
   * `timeout`, `status_4xx`, `status_5xx`, `protocol`) or {@link ClientGone}. The deadline keeps
   * running (through a non-streamed body) until {@link stopDeadline}.
   */
  async send(): Promise<Response> {
    const { provider, timeoutMs } = this.#options;
    this.#deadline = setDeadline(timeoutMs, () => {
      this.#timedOut = true;
      this.#controller.abort();
    });
    const ctx = this.span.spanContext();
    // No trace at all (tracing off and none coming in): the all-zero ids are invalid in a
    // traceparent, and there is no context to make current for the runtime's fetch span.
    const traced = ctx.traceId !== INVALID_TRACEID;
    const propagation: Record<string, string> = traced && this.#options.injectTraceparent
      ? { traceparent: `00-${ctx.traceId}-${ctx.spanId}-0${ctx.traceFlags & 1}` }
      : {};
    const send = () =>
      fetch(`${provider.baseUrl}${this.#options.path}`, {
        method: this.#options.method ?? "POST",
        headers: {
          ...provider.headers,
          ...this.#options.headers,
          ...(this.#options.body === undefined ? {} : { "content-type": "application/json" }),
          accept: this.#options.stream ? "text/event-stream" : "application/json",
          ...propagation,
        },
        body: this.#options.body,
        signal: this.#controller.signal,
        // A redirect would carry the key to wherever it points; a provider does not need one.
        redirect: "manual",
      });
    let response: Response;
    try {
      response =
        await (traced ? context.with(trace.setSpan(context.active(), this.span), send) : send());
    } catch (error) {
      throw this.failure(error, "connect");
    }
    this.span.setAttribute(ATTR.httpResponseStatusCode, response.status);
    if (response.status >= 200 && response.status < 300) return response;

    const text = await this.readText(response).catch((error) => {
      if (error instanceof UpstreamError && error.kind !== "protocol") throw error;
      if (error instanceof ClientGone) throw error;
      return "";
    });
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch { /* not JSON: kept as text */ }
    if (response.status >= 500) {
      throw new UpstreamError(
        "status_5xx",
        `provider "${provider.name}" answered HTTP ${response.status}`,
        response.status,
        body,
      );
    }
    if (response.status >= 400) {
      throw new UpstreamError(
        "status_4xx",
        `provider "${provider.name}" answered HTTP ${response.status}`,
        response.status,
        body,
        response.headers,
      );
    }
    throw new UpstreamError(
      "protocol",
      `provider "${provider.name}" answered HTTP ${response.status}, not a completion`,
      response.status,
    );
  }

  /** Reads a body within the deadline; a broken one is a `protocol` failure. */
  async readText(response: Response): Promise<string> {
    try {
      return await response.text();
    } catch (error) {
      throw this.failure(error, "protocol");
    }
  }

  /** Stops the request deadline: a stream is watched for idleness instead. */
  stopDeadline(): void {
    if (this.#deadline) clearDeadline(this.#deadline);
  }

  /** Aborts the request (the client went away, or the stream went idle). */
  abort(): void {
    this.#controller.abort();
  }

  /** Classifies a thrown error: the deadline, the client leaving, or `fallback`. */
  failure(error: unknown, fallback: UpstreamErrorKind): Error {
    const { provider, timeoutMs } = this.#options;
    if (error instanceof UpstreamError || error instanceof ClientGone) return error;
    if (this.#timedOut) {
      return new UpstreamError(
        "timeout",
        `provider "${provider.name}" did not answer within ${timeoutMs} ms (UPSTREAM_TIMEOUT_MS)`,
      );
    }
    if (this.#options.clientSignal.aborted) return new ClientGone("client closed the request");
    return new UpstreamError(
      fallback,
      fallback === "connect"
        ? `could not connect to provider "${provider.name}"`
        : `provider "${provider.name}" sent a broken response`,
    );
  }

  /** Ends the child span: fine, or failed with an upstream error kind or the client leaving. */
  end(failure?: UpstreamErrorKind | "client_closed", usage?: TokenUsage, model?: string): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#deadline) clearDeadline(this.#deadline);
    if (model) this.span.setAttribute(ATTR.responseModel, model);
    if (usage) {
      this.span.setAttributes({
        [ATTR.usageInputTokens]: usage.inputTokens,
        [ATTR.usageOutputTokens]: usage.outputTokens,
      });
    }
    if (failure) {
      this.span.setAttribute(ATTR.errorType, failure);
      this.span.setStatus({ code: SpanStatusCode.ERROR, message: failure });
    }
    this.span.end();
  }
}
