import { SerializerSelector } from "@fastify/fast-json-stringify-compiler";

/**
 * Route schemas are compiled on a route's first request, not at start-up (issue 20). Fastify compiles
 * every route's validators (Ajv) and response serializers (fast-json-stringify) when the server becomes
 * ready: for our few hundred schemas that was 0.4–0.7 s of the start and a good part of an idle replica's
 * memory, most of it for routes a given replica never serves. The first request of a route pays a few
 * milliseconds instead. A schema Ajv refuses now fails that route's first request (a 500) rather than the
 * start: the route tests, which call every route, are what catch it.
 */

/** An Ajv-style validator: returns whether `data` passed; on failure `errors` says why (Fastify reads it). */
export interface Validator<E> {
  (data: unknown): boolean;
  errors?: E | null;
}

/** A validator that compiles itself with `compile` on its first call. */
export function lazyValidator<E>(compile: () => Validator<E>): Validator<E> {
  let compiled: Validator<E> | undefined;
  const validate: Validator<E> = (data) => {
    compiled ??= compile();
    const ok = compiled(data);
    validate.errors = compiled.errors;
    return ok;
  };
  return validate;
}

type SerializerFactory = ReturnType<typeof SerializerSelector>;

/**
 * Fastify's own serializer factory (fast-json-stringify, same options), each serializer compiled on its
 * first use. For `schemaController.compilersFactory.buildSerializer`.
 */
export function lazySerializerFactory(): SerializerFactory {
  const eager = SerializerSelector();
  return (externalSchemas, options) => {
    const compileRoute = eager(externalSchemas, options);
    return (route) => {
      let serialize: ((doc: unknown) => string) | undefined;
      return (doc) => (serialize ??= compileRoute(route))(doc);
    };
  };
}
