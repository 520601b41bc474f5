/**
 * One QMP exchange with a running QEMU (its `-qmp unix:PATH,server=on,wait=off` monitor):
 * read the greeting, leave capabilities negotiation mode, send one command, return its
 * `return` value. QMP is newline-delimited JSON; asynchronous `event` lines are skipped.
 */
import { createConnection } from 'node:net';

class QmpError extends Error {}

interface QmpReply {
  QMP?: unknown;
  return?: unknown;
  error?: { class?: string; desc?: string };
  event?: string;
}

/**
 * Run `command` on the monitor at `socketPath`. `quit` closes the connection right after
 * its reply (or before it, on some QEMU versions): a close after sending `quit` is success.
 */
export function qmpCommand(
  socketPath: string,
  command: string,
  args?: Record<string, unknown>,
  timeoutMs = 10_000,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    let buffer = '';
    let stage: 'greeting' | 'capabilities' | 'command' | 'done' = 'greeting';
    const finish = (error: Error | undefined, value?: unknown) => {
      if (stage === 'done') return;
      stage = 'done';
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(value);
    };
    const timer = setTimeout(
      () => finish(new QmpError(`QMP ${command} on ${socketPath}: no answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const send = (execute: string, argumentsValue?: Record<string, unknown>) =>
      socket.write(`${JSON.stringify(argumentsValue ? { execute, arguments: argumentsValue } : { execute })}\n`);

    const onReply = (reply: QmpReply) => {
      if (reply.event !== undefined) return;
      if (stage === 'greeting') {
        if (reply.QMP === undefined) return finish(new QmpError(`QMP ${socketPath}: unexpected greeting`));
        stage = 'capabilities';
        send('qmp_capabilities');
        return;
      }
      if (reply.error) {
        return finish(new QmpError(`QMP ${command}: ${reply.error.class ?? 'Error'}: ${reply.error.desc ?? 'failed'}`));
      }
      if (stage === 'capabilities') {
        stage = 'command';
        send(command, args);
        return;
      }
      finish(undefined, reply.return);
    };

    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (!line) continue;
        try {
          onReply(JSON.parse(line) as QmpReply);
        } catch (error) {
          finish(new QmpError(`QMP ${socketPath}: unreadable reply: ${(error as Error).message}`));
        }
      }
    });
    socket.on('error', (error) => finish(new QmpError(`QMP ${socketPath}: ${error.message}`)));
    socket.on('close', () => {
      if (stage === 'command' && command === 'quit') finish(undefined, {});
      else finish(new QmpError(`QMP ${socketPath}: connection closed before the ${command} reply`));
    });
  });
}
