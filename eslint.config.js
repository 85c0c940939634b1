// Flat config: typescript-eslint's recommended rules for every TypeScript file in the workspace, and
// eslint-plugin-vue's for the dashboard's single-file components (their <script lang="ts"> parsed by
// typescript-eslint's parser inside vue-eslint-parser).
import js from "@eslint/js";
import pluginVue from "eslint-plugin-vue";
import prettier from "eslint-config-prettier";
import tseslint from "typescript-eslint";
import vueParser from "vue-eslint-parser";

export default tseslint.config(
  {
    ignores: ["**/node_modules/**", "**/dist/**", ".runway/**", "e2e/artifacts/**", "e2e/test-results/**", "bench/results/**"],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...pluginVue.configs["flat/recommended"],
  {
    files: ["**/*.vue"],
    languageOptions: {
      parser: vueParser,
      parserOptions: { parser: tseslint.parser, extraFileExtensions: [".vue"], sourceType: "module" },
    },
    rules: {
      // As typescript-eslint does for .ts files: the type checker (vue-tsc) already refuses undefined names,
      // and this rule does not know the browser's globals (HTMLElement, ResizeObserver).
      "no-undef": "off",
      // Beyond "recommended": the dashboard's conventions, so a new component keeps them.
      "vue/block-lang": ["error", { script: { lang: "ts" } }],
      "vue/component-api-style": ["error", ["script-setup"]],
      "vue/define-props-declaration": ["error", "type-based"],
      "vue/define-emits-declaration": ["error", "type-literal"],
      "vue/require-typed-ref": "error",
      "vue/no-undef-components": ["error", { ignorePatterns: ["router-link", "router-view", "i18n-t"] }],
      "vue/no-unused-refs": "error",
      "vue/no-unused-properties": "error",
    },
  },
  {
    // Node scripts in plain JavaScript (build and start scripts).
    files: ["scripts/**/*.mjs", "apps/server/build.mjs", "bench/tools/*.mjs"],
    languageOptions: { globals: { console: "readonly", process: "readonly", URL: "readonly" } },
  },
  // Layout belongs to Prettier (`pnpm format`): turns off every rule above that would fight it.
  prettier,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-constant-condition": ["error", { checkLoops: false }],
    },
  },
);
