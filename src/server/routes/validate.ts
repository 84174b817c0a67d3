/**
 * Request validation from the TypeBox schemas, with errors that name the field like the
 * library's (`GENLOG_E_INVALID_INPUT`, a JSON Pointer and the rule).
 */
import { TypeCompiler, ValueErrorType } from "@sinclair/typebox/compiler";
import { Value } from "@sinclair/typebox/value";
import type { TSchema } from "@sinclair/typebox";
import type { FastifySchemaCompiler } from "fastify";
import { requestError } from "../http-errors.js";

/** Marks a schema the library checks itself (with its own messages): shown, not compiled. */
export const VALIDATED_BY_LIBRARY = { "x-validated-by": "library" } as const;

/**
 * A validator compiler for Fastify: query strings and path parameters are converted
 * (numbers, booleans) then checked; a schema marked {@link VALIDATED_BY_LIBRARY} passes as is.
 */
export function typeboxCompiler(): FastifySchemaCompiler<TSchema> {
  return ({ schema, httpPart }) => {
    if ((schema as Record<string, unknown>)["x-validated-by"] === "library") {
      return (data) => ({ value: data });
    }
    const checker = TypeCompiler.Compile(schema);
    const convert = httpPart === "querystring" || httpPart === "params";
    const props = ((schema as { properties?: Record<string, { type?: string }> }).properties ??
      {}) as Record<string, { type?: string }>;
    return (data) => {
      // A body-less POST whose schema requires nothing is an empty object.
      if (httpPart === "body" && data === undefined) data = {};
      // Numbers and booleans in a query string are converted only from their plain forms:
      // TypeBox would read "1e3" or "true" as 1, "0x2" as 2.
      if (convert && typeof data === "object" && data !== null) {
        for (const [key, raw] of Object.entries(data as Record<string, unknown>)) {
          const type = props[key]?.type;
          const plain =
            typeof raw !== "string" ||
            (type === "integer"
              ? /^\d{1,15}$/.test(raw)
              : type === "boolean"
                ? /^(true|false)$/.test(raw)
                : true);
          if (!plain) {
            const pointer = `/${httpPart === "querystring" ? "query" : httpPart}/${key}`;
            return {
              error: requestError(
                pointer,
                "type",
                `${pointer}: expected ${type === "integer" ? "a whole number" : "true or false"}`,
              ),
            };
          }
        }
      }
      const value: unknown = convert ? Value.Convert(schema, data) : data;
      if (checker.Check(value)) return { value };
      const first = checker.Errors(value).First()!;
      const pointer = `/${httpPart === "querystring" ? "query" : httpPart}${first.path}`;
      const rule = ValueErrorType[first.type];
      return { error: requestError(pointer, rule, `${pointer}: ${first.message}`) };
    };
  };
}
