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
    return (data) => {
      const value: unknown = convert ? Value.Convert(schema, data) : data;
      if (checker.Check(value)) return { value };
      const first = checker.Errors(value).First()!;
      const pointer = `/${httpPart === "querystring" ? "query" : httpPart}${first.path}`;
      const rule = ValueErrorType[first.type];
      return { error: requestError(pointer, rule, `${pointer}: ${first.message}`) };
    };
  };
}
