/**
 * The Fly dynamic providers, one per file: create / read / diff / update / delete of App, Volume, Machine and
 * Secrets over the careful client (../client.ts).
 */
export * from "./shared";
export { appProvider } from "./app";
export { volumeProvider } from "./volume";
export { machineProvider } from "./machine";
export { secretsProvider } from "./secrets";
