/**
 * A pass-through HTTP server between the conductor and a real agent that keeps the body of every
 * command the conductor POSTs, so a test can check what the conductor sends on the wire (what a
 * stock IPA would get), not just what our agent made of it. The agent advertises the recorder's
 * port (`advertisePort`) in its heartbeats; the recorder forwards to the agent once `target` is set.
 */
import { createServer, type Server } from 'node:http';

export interface RecordedCommand {
  name: string;
  params: Record<string, unknown>;
}

export class AgentCommandRecorder {
  readonly commands: RecordedCommand[] = [];
  readonly #server: Server;
  #target!: (url: string) => void;
  readonly #targetUrl = new Promise<string>((resolve) => (this.#target = resolve));

  private constructor() {
    this.#server = createServer((request, response) => {
      void (async () => {
        const chunks: Buffer[] = [];
        for await (const chunk of request) chunks.push(chunk as Buffer);
        const body = Buffer.concat(chunks);
        if (request.method === 'POST' && body.length > 0) {
          const parsed = JSON.parse(body.toString('utf8')) as RecordedCommand;
          this.commands.push({ name: parsed.name, params: parsed.params });
        }
        const headers: Record<string, string> = { 'content-type': 'application/json' };
        const upstream = await fetch(`${await this.#targetUrl}${request.url}`, {
          method: request.method!,
          headers,
          ...(request.method === 'POST' ? { body } : {}),
        });
        response.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
        response.end(Buffer.from(await upstream.arrayBuffer()));
      })().catch(() => response.destroy());
    });
  }

  static async start(): Promise<AgentCommandRecorder> {
    const recorder = new AgentCommandRecorder();
    await new Promise<void>((resolve) => recorder.#server.listen(0, '127.0.0.1', resolve));
    return recorder;
  }

  get port(): number {
    return (this.#server.address() as { port: number }).port;
  }

  /** The agent's own URL: requests that came before it wait for it. */
  forwardTo(agentUrl: string): void {
    this.#target(agentUrl);
  }

  /** The params of the last `name` command (e.g. `image.install_bootloader`). */
  last(name: string): Record<string, unknown> | undefined {
    return this.commands.filter((c) => c.name === name).at(-1)?.params;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
