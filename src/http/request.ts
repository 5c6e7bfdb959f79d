/**
 * Reading a request safely: content type, a byte limit enforced while reading (a lying or absent
 * Content-Length cannot get past it), a deadline for the whole body (a client trickling it in,
 * slow-loris style, would otherwise hold a concurrency slot for ever), strict UTF-8 and JSON.
 * Each failure is a documented ApiError.
 */
import { clearDeadline, setDeadline } from "./deadlines.ts";
import { v7 as uuidv7 } from "uuid";
import { ApiError } from "./errors.ts";

/** Decoding without `stream` keeps no state, so one strict decoder serves every request. */
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** Default of `timeoutMs` in {@link readJsonBody} (BODY_TIMEOUT_MS). */
export const DEFAULT_BODY_TIMEOUT_MS = 30_000;

/** Reads the body as JSON within `maxBytes` and `timeoutMs`. Throws 415, 413, 408 or 400. */
export async function readJsonBody(
  request: Request,
  maxBytes: number,
  timeoutMs = DEFAULT_BODY_TIMEOUT_MS,
): Promise<unknown> {
  const type = request.headers.get("content-type") ?? "";
  if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)) {
    throw new ApiError(
      "unsupported_media_type",
      `Content-Type must be application/json (got ${
        type ? JSON.stringify(type.slice(0, 100)) : "none"
      })`,
    );
  }
  const declared = Number(request.headers.get("content-length") ?? "NaN");
  if (declared > maxBytes) throw tooLarge(maxBytes);
  const bytes = await readLimited(request, declared, maxBytes, timeoutMs);
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw new ApiError("invalid_json", "request body is not valid UTF-8");
  }
  if (text.trim() === "") throw new ApiError("invalid_json", "request body is empty");
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError(
      "invalid_json",
      `request body is not valid JSON: ${(error as Error).message}`,
    );
  }
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError(
    "payload_too_large",
    `request body exceeds ${maxBytes} bytes (MAX_BODY_BYTES)`,
    { limit_bytes: maxBytes },
  );
}

function timedOut(timeoutMs: number): ApiError {
  return new ApiError(
    "request_timeout",
    `request body not received within ${timeoutMs} ms (BODY_TIMEOUT_MS)`,
  );
}

function unreadable(error: unknown): ApiError {
  return error instanceof ApiError ? error : new ApiError(
    "invalid_json",
    `request body could not be read: ${(error as Error).message}`,
  );
}

/**
 * The body within `maxBytes` and `timeoutMs`. With a declared length within the limit the
 * connection's framing already bounds the body, so it is read in one go (`bytes()`: one native
 * read, no JS loop over chunks); otherwise chunk by chunk, counting. A body that misses its
 * deadline is answered 408 at once; the read left behind ends when the connection closes.
 *
 * The first path never touches `request.body`: Deno hands a body that has already arrived whole
 * to `bytes()` as it is, but the `body` getter first wraps it in a stream that `bytes()` must
 * then drain (the stream's set-up and collection were ~7 % of `/v1/inference`'s CPU).
 */
function readLimited(
  request: Request,
  declared: number,
  maxBytes: number,
  timeoutMs: number,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    if (declared >= 0 && declared <= maxBytes) {
      const deadline = setDeadline(timeoutMs, () => reject(timedOut(timeoutMs)));
      request.bytes().then(
        (bytes) => {
          clearDeadline(deadline);
          // A request built in-process has no framing behind its header: check it anyway.
          if (bytes.byteLength > maxBytes) reject(tooLarge(maxBytes));
          else resolve(bytes);
        },
        (error) => {
          clearDeadline(deadline);
          reject(unreadable(error));
        },
      );
      return;
    }
    const body = request.body;
    if (!body) return resolve(new Uint8Array());
    const reader = body.getReader();
    const deadline = setDeadline(timeoutMs, () => {
      reject(timedOut(timeoutMs));
      reader.cancel().catch(() => {});
    });
    readChunks(reader, maxBytes).then(
      (bytes) => {
        clearDeadline(deadline);
        resolve(bytes);
      },
      (error) => {
        clearDeadline(deadline);
        reject(unreadable(error));
      },
    );
  });
}

async function readChunks(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  maxBytes: number,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** The API key a client presented: `Authorization: Bearer …` or `x-api-key` (Anthropic's SDK). */
export function presentedApiKey(headers: Headers): string | undefined {
  const auth = headers.get("authorization");
  if (auth) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (match) return match[1];
  }
  return headers.get("x-api-key")?.trim() || undefined;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * The client's `x-request-id` when it is safe to echo and log, else a fresh UUID version 7. Its
 * first 48 bits are the time, so the ledger's primary-key index grows at its end: with random
 * (version 4) ids each row landed on a random page of the index, and a commit cost about three
 * times as much once the ledger held some thousands of rows (docs/benchmarks.md).
 */
export function requestIdOf(headers: Headers): string {
  const given = headers.get("x-request-id");
  return given && REQUEST_ID.test(given) ? given : uuidv7();
}
