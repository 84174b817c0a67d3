/**
 * RFC 8785 JSON Canonicalization Scheme (JCS), written for the append hot path: every
 * event is canonicalised before it is hashed, so this module trades a little code size for
 * speed (no closures or per-value allocation in the recursion, no `JSON.stringify` call for
 * strings that need no escaping, no pointer bookkeeping unless a value is refused).
 *
 * What is accepted is I-JSON (RFC 7493) built from plain JavaScript values:
 *
 * - `null`, booleans, finite numbers, strings of well-formed UTF-16;
 * - arrays (`Array.isArray`), whose elements are all accepted values (holes are refused);
 * - plain objects (prototype `Object.prototype` or `null`) whose enumerable own string-keyed
 *   members all hold accepted values.
 *
 * Everything else is refused with a {@link GenlogError} `GENLOG_E_INVALID_INPUT` whose
 * `details.pointer` is the JSON Pointer (RFC 6901) of the offending value and whose
 * `details.rule` is a {@link JcsRule}. In particular `toJSON` is never invoked: a hash must
 * commit to the data the caller holds, not to whatever a method chooses to return, so a
 * `Date`, `Map`, `Buffer`, boxed primitive or class instance is refused rather than silently
 * converted. Symbol-keyed and non-enumerable properties are ignored, as `JSON.stringify`
 * ignores them; array elements are never skipped. Nesting depth is bounded only by the
 * JavaScript stack (a `RangeError` past it): callers that take untrusted input limit depth
 * when they validate it, before it gets here.
 *
 * @module
 */

import { GenlogError } from "../errors.js";

/**
 * The `details.rule` of a refused value.
 *
 * - `non-finite-number`: `NaN`, `Infinity` or `-Infinity` (JSON has no spelling for them).
 * - `unsupported-type`: `undefined` (also an `undefined` object member or an array hole),
 *   a function, a symbol or a bigint.
 * - `lone-surrogate`: a string or member name that is not well-formed UTF-16 (RFC 8785
 *   requires I-JSON, whose strings are well-formed Unicode). For a member name the pointer
 *   names that member.
 * - `cycle`: an object or array that contains itself; the pointer names the back-reference.
 * - `non-plain-object`: an object whose prototype is neither `Object.prototype` nor `null`
 *   and which is not an array (`Date`, `Map`, `Set`, typed arrays, class instances, objects
 *   from another realm).
 */
export type JcsRule =
  "non-finite-number" | "unsupported-type" | "lone-surrogate" | "cycle" | "non-plain-object";

/**
 * A refusal on its way up the recursion. Each container frame adds its member name or
 * index on the way out, so the hot path never builds pointer strings. It is deliberately
 * not an `Error`: capturing a stack trace is wasted work, it never escapes this module.
 */
class Refusal {
  /** Reference tokens, innermost first (frames push as the refusal unwinds). */
  readonly tokens: string[] = [];
  constructor(
    readonly rule: JcsRule,
    readonly what: string,
  ) {}
}

/**
 * Characters that stop the string fast path: `"` and `\` and C0 controls must be escaped,
 * and any surrogate code unit needs the lone-surrogate check. Everything else (including
 * all other non-ASCII) is written as is by both `JSON.stringify` and RFC 8785 §3.2.2.2.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point.
const NEEDS_ESCAPE_OR_CHECK = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * Canonicalises `value` per RFC 8785: object members sorted by the UTF-16 code units of
 * their names, no whitespace, strings escaped as ECMAScript `JSON.stringify` does, numbers
 * written as ECMAScript `Number.prototype.toString` does (so `-0` is written `0`).
 *
 * @param value - a JSON value made of plain objects, arrays and primitives (see the module
 *   documentation for exactly what is accepted).
 * @returns the canonical JSON text; hash its UTF-8 encoding ({@link canonicalizeToBuffer}).
 * @throws {GenlogError} `GENLOG_E_INVALID_INPUT` with `details.pointer` (RFC 6901) and
 *   `details.rule` (a {@link JcsRule}) when `value` is not canonicalisable.
 *
 * @example
 * canonicalize({ b: [1, -0, 1e21], a: "é" }); // '{"a":"é","b":[1,0,1e+21]}'
 */
export function canonicalize(value: unknown): string {
  try {
    // The stack of containers on the current path, for cycle detection: a fresh array per
    // call keeps this re-entrant (a getter may itself canonicalise) and costs one allocation.
    return serializeValue(value, []);
  } catch (e) {
    if (e instanceof Refusal) throw toGenlogError(e);
    throw e;
  }
}

/**
 * {@link canonicalize} of the value of member `name` of an object the caller writes itself
 * (its member names in order, each value canonicalised here): a refusal's pointer starts
 * with `/name`, as it would had the whole object been canonicalised.
 *
 * @throws {GenlogError} as {@link canonicalize}.
 */
export function canonicalizeMember(name: string, value: unknown): string {
  try {
    return serializeValue(value, []);
  } catch (e) {
    if (e instanceof Refusal) {
      e.tokens.push(name);
      throw toGenlogError(e);
    }
    throw e;
  }
}

/**
 * {@link canonicalize}, then UTF-8 encoded: the exact bytes RFC 8785 §3.2.4 says to hash
 * or sign.
 *
 * @throws {GenlogError} as {@link canonicalize}.
 */
export function canonicalizeToBuffer(value: unknown): Buffer {
  return Buffer.from(canonicalize(value), "utf8");
}

function serializeValue(value: unknown, stack: object[]): string {
  switch (typeof value) {
    case "string":
      return serializeString(value);
    case "number":
      // String(n) is Number.prototype.toString, which RFC 8785 §3.2.2.3 adopts verbatim
      // (it already writes -0 as "0"); only the non-finite values have no JSON form.
      if (Number.isFinite(value)) return String(value);
      throw new Refusal("non-finite-number", `${String(value)} is not a JSON number`);
    case "boolean":
      return value ? "true" : "false";
    case "object":
      if (value === null) return "null";
      return serializeContainer(value, stack);
    default:
      // undefined, function, symbol, bigint.
      throw new Refusal("unsupported-type", `${typeof value} is not a JSON value`);
  }
}

function serializeContainer(value: object, stack: object[]): string {
  // Typical records are a few levels deep, so a linear scan of the path beats a Set.
  if (stack.includes(value)) throw new Refusal("cycle", "the value contains itself");
  let out: string;
  if (Array.isArray(value)) {
    stack.push(value);
    out = serializeArray(value as unknown[], stack);
  } else {
    const proto: unknown = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new Refusal("non-plain-object", `${describeObject(value)} is not a plain object`);
    }
    stack.push(value);
    out = serializeObject(value as Record<string, unknown>, stack);
  }
  stack.pop();
  return out;
}

function serializeArray(arr: unknown[], stack: object[]): string {
  const n = arr.length;
  if (n === 0) return "[]";
  let i = 0;
  try {
    // Indexed reads (not iteration or .map) so holes read as undefined and are refused.
    let out = "[" + serializeValue(arr[0], stack);
    for (i = 1; i < n; i++) out += "," + serializeValue(arr[i], stack);
    return out + "]";
  } catch (e) {
    if (e instanceof Refusal) e.tokens.push(String(i));
    throw e;
  }
}

function serializeObject(obj: Record<string, unknown>, stack: object[]): string {
  const names = Object.keys(obj);
  const n = names.length;
  if (n === 0) return "{}";
  const shape = shapeOf(names);
  const sorted = shape.sorted;
  const heads = shape.heads;
  let i = 0;
  try {
    let out = "";
    for (; i < n; i++)
      out += (heads[i] as string) + serializeValue(obj[sorted[i] as string], stack);
    return out + "}";
  } catch (e) {
    if (e instanceof Refusal) e.tokens.push(sorted[i] as string);
    throw e;
  }
}

/**
 * The member names of one object shape in RFC 8785 §3.2.3 order, with each member's
 * rendered head: `{"name":` for the first, `,"name":` for the others.
 */
class Shape {
  constructor(
    /** The `Object.keys` result this shape was built from, in its original order. */
    readonly names: readonly string[],
    readonly sorted: readonly string[],
    readonly heads: readonly string[],
  ) {}
}

/**
 * Member-name lists shorter than this go through the shape cache; longer ones are sorted
 * and rendered every time (they are rare, and a miss would cost a long comparison).
 */
const SHAPE_CACHE_SLOTS = 64;

const EMPTY_SHAPE = new Shape([], [], []);

/**
 * Sorting and escaping member names cost more than everything else in canonicalising a
 * record, yet an append stream holds the same few shapes over and over. So for each name
 * count we remember the last two shapes seen (two, so that two event kinds with the same
 * number of members can alternate without thrashing): if the next object of that size
 * lists exactly the same names in the same order (an element-wise `===` check, cheap for
 * the interned strings property names are), its sorted names and rendered heads are
 * reused. Slots start as an empty shape, which never matches (names are compared up to
 * the count, and the empty shape has none).
 */
const recentShapes: Shape[] = Array.from({ length: SHAPE_CACHE_SLOTS }, () => EMPTY_SHAPE);
const olderShapes: Shape[] = Array.from({ length: SHAPE_CACHE_SLOTS }, () => EMPTY_SHAPE);

/** The shape of an object whose `Object.keys` are `names` (non-empty). */
function shapeOf(names: string[]): Shape {
  const n = names.length;
  if (n >= SHAPE_CACHE_SLOTS) return buildShape(names);
  const recent = recentShapes[n] as Shape;
  if (sameNames(recent.names, names)) return recent;
  const older = olderShapes[n] as Shape;
  if (sameNames(older.names, names)) return older;
  const shape = buildShape(names);
  olderShapes[n] = recent;
  recentShapes[n] = shape;
  return shape;
}

/** True when `cached` starts with exactly `names` (callers pick `cached` by length). */
function sameNames(cached: readonly string[], names: readonly string[]): boolean {
  const n = names.length;
  let i = 0;
  while (i < n && cached[i] === names[i]) i++;
  return i === n;
}

function buildShape(names: string[]): Shape {
  const sorted = sortNames(names.slice());
  const heads: string[] = new Array<string>(sorted.length);
  let name = "";
  try {
    for (let i = 0; i < sorted.length; i++) {
      name = sorted[i] as string;
      heads[i] = (i === 0 ? "{" : ",") + serializeString(name) + ":";
    }
  } catch (e) {
    // A refused member name: the pointer names that member.
    if (e instanceof Refusal) e.tokens.push(name);
    throw e;
  }
  return new Shape(names, sorted, heads);
}

/**
 * Sorts names by UTF-16 code units, the order RFC 8785 §3.2.3 requires: that is what the
 * relational operators on strings compare (localeCompare would not be). An insertion sort
 * beats Array.prototype.sort on the short lists records have; long lists use the built-in
 * default sort, which compares the same way.
 */
function sortNames(names: string[]): string[] {
  const n = names.length;
  if (n > 32) return names.sort();
  for (let i = 1; i < n; i++) {
    const name = names[i] as string;
    let j = i - 1;
    while (j >= 0 && (names[j] as string) > name) {
      names[j + 1] = names[j] as string;
      j--;
    }
    names[j + 1] = name;
  }
  return names;
}

function serializeString(s: string): string {
  // Fast path: nothing to escape and no surrogates, so the JSON form is the string quoted.
  if (!NEEDS_ESCAPE_OR_CHECK.test(s)) return '"' + s + '"';
  if (hasLoneSurrogate(s)) {
    throw new Refusal("lone-surrogate", "the string is not well-formed UTF-16");
  }
  // JSON.stringify escapes exactly as RFC 8785 §3.2.2.2 requires: \b \t \n \f \r \" \\
  // short forms, other C0 controls as lower-case \u00XX, everything else literal.
  return JSON.stringify(s);
}

/** True when `s` holds a high surrogate not followed by a low one, or a lone low one. */
function hasLoneSurrogate(s: string): boolean {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c >= 0xdc00) return true;
    const next = i + 1 < n ? s.charCodeAt(i + 1) : 0;
    if (next < 0xdc00 || next > 0xdfff) return true;
    i++;
  }
  return false;
}

function describeObject(value: object): string {
  const ctor: unknown = (value as { constructor?: unknown }).constructor;
  const name = typeof ctor === "function" ? ctor.name : "";
  return name === "" ? "an object with a custom prototype" : `a ${name}`;
}

/** RFC 6901 §3: `~` becomes `~0` and `/` becomes `~1` (in that order). */
function escapeToken(token: string): string {
  return token.replace(/~/g, "~0").replace(/\//g, "~1");
}

function toGenlogError(r: Refusal): GenlogError {
  let pointer = "";
  for (let i = r.tokens.length - 1; i >= 0; i--)
    pointer += "/" + escapeToken(r.tokens[i] as string);
  return new GenlogError(
    "GENLOG_E_INVALID_INPUT",
    `cannot canonicalise the value at ${pointer === "" ? "the root" : JSON.stringify(pointer)}: ${r.what}`,
    { details: { pointer, rule: r.rule } },
  );
}
