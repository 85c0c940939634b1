import fp from "fastify-plugin";
import { Ajv } from "ajv";
import addFormatsModule from "ajv-formats";
import type { FastifyInstance } from "fastify";
import { findBadText, isStrictDateTime } from "../../http/strict-input.js";
import { lazyValidator } from "../../http/lazy-compile.js";
import { invalid } from "../app/api-error.js";

// ajv-formats is CommonJS with a default export; under NodeNext it arrives wrapped.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/**
 * Two Ajv instances instead of Fastify's one. Fastify's default coerces types everywhere and silently
 * drops unknown fields; for JSON bodies we want the opposite: `"5"` is not a number and an unknown field
 * is an error (`additionalProperties: false` must refuse, not strip). Query strings and path params are
 * text by nature, so they keep coercion (and `?status=A` becomes `["A"]`).
 *
 * Two checks hold for every route whatever its schema says: `date-time` is strict RFC 3339 without leap
 * seconds (strict-input.ts), and no string anywhere in the body, query or path (keys included) may carry
 * NUL or an unpaired surrogate — checked once here, in preValidation, rather than per schema.
 */
export default fp(
  async function validation(app: FastifyInstance) {
    const common = { removeAdditional: false, useDefaults: true, allErrors: false, strict: true, strictTypes: false } as const;
    const body = new Ajv({ ...common, coerceTypes: false });
    const text = new Ajv({ ...common, coerceTypes: "array" });
    for (const ajv of [body, text]) {
      addFormats(ajv);
      ajv.addFormat("date-time", { type: "string", validate: isStrictDateTime });
    }
    // Compiled on the route's first request (http/lazy-compile.ts): start-up compiles nothing.
    app.setValidatorCompiler(({ schema, httpPart }) => lazyValidator(() => (httpPart === "body" ? body : text).compile(schema)));

    app.addHook("preValidation", async (req) => {
      const where = findBadText(req.params, "params") ?? findBadText(req.query, "querystring") ?? findBadText(req.body, "body");
      if (where) throw invalid(`${where} must not contain NUL characters or unpaired UTF-16 surrogates`);
    });
  },
  { name: "runway-validation" },
);
