// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "genlog-data/", "bench/results/", "tour/", "scratch/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    // The examples are plain Node scripts, run as a user runs them.
    files: ["examples/**/*.mjs"],
    languageOptions: { globals: { process: "readonly", console: "readonly" } },
  },
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
);
