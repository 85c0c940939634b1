export * from "./status.js";
export * from "./version.js";
