// Writes the agent's API description (docs/agent-api.openapi.json, docs/agent-api.md) from the
// routes and the commands' zod schemas. Run by `npm run api-doc` and `make build`; the test
// test/agent/api-description-covers-every-route.test.ts fails when the files are stale.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeAgentApi, renderApiMarkdown } from '../src/agent/api-description.ts';
import { builtinExtensions } from '../src/agent/extensions/index.ts';
import { AGENT_VERSION } from '../src/version.ts';

const docs = join(import.meta.dirname, '..', 'docs');
const document = describeAgentApi(builtinExtensions, AGENT_VERSION);
writeFileSync(join(docs, 'agent-api.openapi.json'), `${JSON.stringify(document, null, 2)}\n`);
writeFileSync(join(docs, 'agent-api.md'), renderApiMarkdown(document));
