// The floor Node itself sets for the API's answers: a bare node:http server on the port given
// as argv[2] that answers GET /v1/status with a status document, reads, parses and answers a
// POST with a fixed JSON body the size of our get_clean_steps result (7,055 bytes; ours
// 7,065), and answers GET /v1/commands/ with 420 such results (what the agents hold after the
// list row's 420 calls), built once, and nothing else.
// Measured beside the agents by bench/ipa-side-by-side so a tail that other workers' load puts
// on every process shows up here too.
import http from 'node:http';

const status = JSON.stringify({ started_at: null, version: '0.0.0' });
const steps = Array.from({ length: 24 }, (_, i) => ({
  step: `step_${i}`,
  priority: i,
  interface: 'deploy',
  reboot_requested: false,
  abortable: true,
  argsinfo: { arg: { description: 'x'.repeat(133), required: false } },
}));
const result = JSON.stringify({
  id: '00000000-0000-4000-8000-000000000000',
  command_name: 'get_clean_steps',
  command_status: 'SUCCEEDED',
  command_error: null,
  command_result: { clean_steps: { GenericHardwareManager: steps }, hardware_manager_version: { generic: '1.2' } },
  command_progress: null,
});

const list = Buffer.from(`{"commands":[${Array.from({ length: 420 }, () => result).join(',')}]}`);

http
  .createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      if (req.method === 'POST') JSON.parse(Buffer.concat(chunks).toString());
      res.setHeader('content-type', 'application/json');
      if (req.method === 'POST') res.end(result);
      else res.end(req.url === '/v1/commands/' ? list : status);
    });
  })
  .listen(Number(process.argv[2]), '127.0.0.1');
