import fp from "fastify-plugin";
import { Ajv } from "ajv";
import addFormatsModule from "ajv-formats";
import type { FastifyInstance } from "fastify";

// ajv-formats is CommonJS with a default export; under NodeNext it arrives wrapped.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/**
 * Two Ajv instances instead of Fastify's one. Fastify's default coerces types everywhere and silently
 * drops unknown fields; for JSON bodies we want the opposite: `"5"` is not a number and an unknown field
 * is an error (`additionalProperties: false` must refuse, not strip). Query strings and path params are
 * text by nature, so they keep coercion (and `?status=A` becomes `["A"]`).
 */
export default fp(
  async function validation(app: FastifyInstance) {
    const common = { removeAdditional: false, useDefaults: true, allErrors: false, strict: true, strictTypes: false } as const;
    const body = new Ajv({ ...common, coerceTypes: false });
    const text = new Ajv({ ...common, coerceTypes: "array" });
    for (const ajv of [body, text]) addFormats(ajv);
    app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === "body" ? body : text).compile(schema));
  },
  { name: "runway-validation" },
);
