export * from "./auth";
export * from "./events";
export * from "./http";
export * from "./projects";
export * from "./rollouts";
export * from "./tasks";
export * from "./tokens";
export type * from "./types";
export * from "./task-search";
