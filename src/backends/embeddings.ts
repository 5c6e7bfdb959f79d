/**
 * The simulated model's embeddings: deterministic (the same model and input give the same vector),
 * unit length as OpenAI's are, with the model's own number of dimensions, or fewer when the client
 * asks (`dimensions`). Values are 32-bit floats, so the `float` and `base64` encodings carry
 * exactly the same numbers, as OpenAI's do.
 */
import { Buffer } from "node:buffer";

/** Dimensions of the embeddings models the simulated model imitates (OpenAI's published sizes). */
const NATIVE_DIMENSIONS: Readonly<Record<string, number>> = {
  "text-embedding-3-small": 1536,
  "text-embedding-3-large": 3072,
  "text-embedding-ada-002": 1536,
};
const DEFAULT_DIMENSIONS = 1536;

/** The number of dimensions `model` embeds into (1536 for a model it does not know). */
export function nativeDimensions(model: string): number {
  return NATIVE_DIMENSIONS[model] ?? DEFAULT_DIMENSIONS;
}

/** FNV-1a over the model and the input: the seed of the vector. */
function seedOf(model: string, input: string): number {
  let h = 0x811c9dc5;
  for (const text of [model, "\n", input]) {
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
  }
  return h >>> 0 || 1;
}

/**
 * The embedding of `input` (a text, or token ids joined by commas) by `model`, `dimensions` long.
 * @example simulatedEmbedding("text-embedding-3-small", "hello", 4).length // 4
 */
export function simulatedEmbedding(model: string, input: string, dimensions: number): Float32Array {
  const vector = new Float32Array(dimensions);
  let state = seedOf(model, input);
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const value = (state >>> 0) / 0x80000000 - 1;
    vector[i] = value;
    norm += value * value;
  }
  const scale = 1 / Math.sqrt(norm);
  for (let i = 0; i < dimensions; i++) vector[i] *= scale;
  return vector;
}

/** A vector as OpenAI's `base64` encoding writes it: its float32 values, little-endian. */
export function embeddingBase64(vector: Float32Array): string {
  const bytes = new DataView(new ArrayBuffer(vector.length * 4));
  vector.forEach((value, i) => bytes.setFloat32(i * 4, value, true));
  return Buffer.from(bytes.buffer).toString("base64");
}
