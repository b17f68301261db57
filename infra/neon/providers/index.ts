/**
 * The Neon dynamic providers, one per file: create / read / diff / update / delete of Project, Branch, Endpoint,
 * Role and Database over the careful client (../client.ts).
 */
export * from "./shared";
export { projectProvider } from "./project";
export { branchProvider, EXPIRY_SLACK_SECONDS } from "./branch";
export { endpointProvider } from "./endpoint";
export { roleProvider } from "./role";
export { databaseProvider } from "./database";
