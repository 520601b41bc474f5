/**
 * pino's `err` serializer names an error by its constructor, which the minified bundle
 * renames (`"type":"f"` in the ramdisk's logs). Errors here carry their identity in `name`
 * (IPA errors set it from their wire type), so the log names them by that instead.
 */
import { stdSerializers } from 'pino';

function serializeError(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  return { ...stdSerializers.err(error), type: error.name };
}

export const LOG_SERIALIZERS = { err: serializeError } as const;
