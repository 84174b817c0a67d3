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
    // The web console runs in the browser, as the files are (no build step).
    files: ["console/**/*.js"],
    languageOptions: {
      globals: {
        window: "readonly",
        document: "readonly",
        location: "readonly",
        history: "readonly",
        localStorage: "readonly",
        sessionStorage: "readonly",
        navigator: "readonly",
        fetch: "readonly",
        URL: "readonly",
        URLSearchParams: "readonly",
        Blob: "readonly",
        TextDecoderStream: "readonly",
        TextEncoder: "readonly",
        Intl: "readonly",
        addEventListener: "readonly",
        removeEventListener: "readonly",
        setTimeout: "readonly",
        crypto: "readonly",
        atob: "readonly",
        btoa: "readonly",
      },
    },
  },
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
    },
  },
);
