// graphql-js (what GraphiQL, Apollo tooling and graphql-codegen use): the standard
// introspection query with every option on → buildClientSchema, which must print the same
// schema as the committed SDL. Usage: node introspect.mjs BASE_URL SCHEMA_SDL_PATH
// Prints {"types": N} and exits 0, or the difference and exits 1.
import { readFileSync } from 'node:fs';
import {
  GraphQLSchema,
  buildClientSchema,
  buildSchema,
  getIntrospectionQuery,
  lexicographicSortSchema,
  printSchema,
} from 'graphql';

const [base, sdlPath] = process.argv.slice(2);
const query = getIntrospectionQuery({
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
  oneOf: true,
});
const res = await fetch(`${base}/graphql`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ query, operationName: 'IntrospectionQuery' }),
});
const body = await res.json();
if (!res.ok || body.errors) {
  console.error(`introspection refused (HTTP ${res.status}): ${JSON.stringify(body.errors)}`);
  process.exit(1);
}
// async-graphql 7 answers `__schema { description }` with the description of the
// `__Schema` type itself (hard-coded in its model/schema.rs), not a description of this
// schema (SDL has none); the comparison leaves that one field out.
const client = buildClientSchema(body.data);
const fetched = printSchema(
  lexicographicSortSchema(new GraphQLSchema({ ...client.toConfig(), description: undefined })),
);
const committed = printSchema(lexicographicSortSchema(buildSchema(readFileSync(sdlPath, 'utf8'))));
if (fetched !== committed) {
  const a = fetched.split('\n');
  const b = committed.split('\n');
  const i = a.findIndex((line, n) => line !== b[n]);
  console.error(`introspected schema differs from ${sdlPath} at line ${i + 1}:`);
  console.error(`  introspection: ${a[i]}\n  committed SDL: ${b[i]}`);
  process.exit(1);
}
console.log(JSON.stringify({ types: Object.keys(client.getTypeMap()).length }));
