#!/usr/bin/env node
// Parses an AsyncAPI document with @asyncapi/parser (the parser AsyncAPI's own tools use: the
// JSON Schema of the specification plus its Spectral rules), checks every message example against
// its payload schema, and prints every diagnostic. Exits 1 when there is an error (or the document
// does not parse at all), 0 otherwise; warnings and hints are printed but do not fail.
//
//   node infra/scripts/validate-asyncapi.mjs [file]        (default: docs/asyncapi.yaml)
//
// The parser is not a dependency of the project: infra/scripts/check-docs.sh installs it into
// target/docs-tools (git-ignored), where this script looks for it; DOCS_TOOLS names another folder.

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const tools = path.resolve(root, process.env.DOCS_TOOLS ?? 'target/docs-tools');
const file = path.resolve(process.cwd(), process.argv[2] ?? path.join(root, 'docs/asyncapi.yaml'));
const shown = path.relative(process.cwd(), file) || file;

const requireTool = createRequire(path.join(tools, 'package.json'));
let parserModule;
try {
  parserModule = requireTool('@asyncapi/parser');
} catch (error) {
  console.error(`@asyncapi/parser is not installed in ${tools}: run infra/scripts/check-docs.sh, or`);
  console.error(`  npm install --prefix ${path.relative(process.cwd(), tools) || tools} @asyncapi/parser`);
  console.error(String(error.message ?? error).split('\n')[0]);
  process.exit(2);
}
const { Parser } = parserModule;
const parserVersion = requireTool('@asyncapi/parser/package.json').version;

// Spectral's DiagnosticSeverity: 0 error, 1 warning, 2 information, 3 hint.
const SEVERITY = ['error', 'warning', 'info', 'hint'];

const text = await readFile(file, 'utf8');
const { document, diagnostics } = await new Parser().parse(text, { source: file });

const sorted = [...diagnostics].sort(
  (a, b) => a.severity - b.severity || a.range.start.line - b.range.start.line,
);
for (const d of sorted) {
  const where = `${shown}:${d.range.start.line + 1}:${d.range.start.character + 1}`;
  const at = d.path && d.path.length ? ` at ${d.path.join('.')}` : '';
  console.log(`${where}: ${SEVERITY[d.severity] ?? d.severity} ${d.code}: ${d.message}${at}`);
}

// The parser does not hold AsyncAPI 3 message examples to their payload schemas; Ajv (one of the
// parser's own dependencies) does, so an example can never show a field the schema forbids.
let exampleErrors = 0;
if (document) {
  const Ajv = requireTool('ajv').default;
  const ajv = new Ajv({ strict: false, allErrors: true });
  for (const message of document.messages()) {
    const schema = message.payload()?.json();
    if (!schema) continue;
    const validate = ajv.compile(schema);
    message.examples().all().forEach((example, n) => {
      if (example.payload() === undefined || validate(example.payload())) return;
      exampleErrors += 1;
      const name = example.name() ?? `#${n}`;
      for (const e of validate.errors) {
        console.log(`${shown}: error example-payload: message ${message.id()}, example ${name}: ${e.instancePath || '/'} ${e.message}`);
      }
    });
  }
}

const count = (severity) => diagnostics.filter((d) => d.severity === severity).length;
const errors = count(0) + exampleErrors;
const summary =
  `${errors} error(s), ${count(1)} warning(s), ${count(2) + count(3)} info/hint(s)` +
  ` (@asyncapi/parser ${parserVersion})`;
if (errors > 0 || !document) {
  console.error(`${shown}: INVALID: ${summary}`);
  process.exit(1);
}
console.log(
  `${shown}: valid AsyncAPI ${document.version()}: ${summary}; ` +
    `${document.channels().length} channel(s), ${document.operations().length} operation(s), ` +
    `${document.messages().length} message(s)`,
);
