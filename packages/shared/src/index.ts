export type * from "./api.js";
export * from "./status.js";
export * from "./version.js";
