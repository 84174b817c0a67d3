/**
 * The fenced code blocks of a Markdown file, with the line they start on and the HTML comment
 * that marks them (`<!-- not run: why -->`, `<!-- file: NAME -->`), for the tests that run the
 * docs.
 */
import { readFileSync } from "node:fs";

/** One fenced code block. */
export interface CodeBlock {
  /** The info string's first word: `sh`, `ts`, `json`, … (empty when there is none). */
  lang: string;
  /** The lines between the fences, without the fence's indentation. */
  lines: string[];
  /** 1-based line number of the first line inside the block. */
  line: number;
  /** The marker comment on the last non-blank line before the fence, if any. */
  mark?: { kind: "not run" | "file"; value: string };
}

const FENCE = /^( *)```(\S*).*$/;
const MARK = /^\s*<!--\s*(not run|file)\s*:\s*(.*?)\s*-->\s*$/;

/** Every fenced code block of `path`, in order. */
export function codeBlocks(path: string): CodeBlock[] {
  const text = readFileSync(path, "utf8").split("\n");
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < text.length; i++) {
    const open = FENCE.exec(text[i]!);
    if (open === null) continue;
    const indent = open[1]!.length;
    const lang = open[2]!;
    let previous = i - 1;
    while (previous >= 0 && text[previous]!.trim() === "") previous--;
    const m = previous >= 0 ? MARK.exec(text[previous]!) : null;
    const lines: string[] = [];
    let j = i + 1;
    for (; j < text.length && !/^ *```\s*$/.test(text[j]!); j++) {
      lines.push(text[j]!.slice(Math.min(indent, /^ */.exec(text[j]!)![0].length)));
    }
    blocks.push({
      lang,
      lines,
      line: i + 2,
      ...(m ? { mark: { kind: m[1] as "not run" | "file", value: m[2]! } } : {}),
    });
    i = j;
  }
  return blocks;
}
