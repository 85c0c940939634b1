export * from "./status.js";
export * from "./version.js";
export * from "./capacity.js";
export * from "./release-names.js";
