import { createServer, type Server, type Socket } from 'node:net';
import { waitUntil } from '../../apps/cli/src/support/server-target';
import { EmailChannel } from '../../libs/database-resilience/src/alerts/alert-channels';

/** An SMTP server that accepts connections and then stalls: before its greeting, or after it. */
async function stallingServer(
  greet: boolean,
  reads = true,
): Promise<{ url: string; open: () => number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    if (reads)
      socket.resume(); // reads what comes (as the kernel would), answers nothing more
    else socket.pause(); // never reads again: a client's half-close never reaches it
    if (greet) socket.write('220 stall.example ESMTP\r\n'); // then never answers EHLO
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `smtp://127.0.0.1:${port}`,
    open: () => sockets.size,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const TIMEOUT_MS = 300;

/** The e-mail channel's timeout applies to the SMTP connection itself: a stalled server holds no socket for long. */
describe.each([
  ['accepts and never greets', false, true],
  ['greets and stalls', true, true],
  ['greets and never reads again', true, false],
])('an SMTP server that %s', (_what, greet, reads) => {
  it(`fails each alert within its timeout and closes its sockets (${TIMEOUT_MS} ms)`, async () => {
    const smtp = await stallingServer(greet, reads);
    try {
      const channel = new EmailChannel(
        { smtpUrl: smtp.url, from: 'db@example.com', to: ['ops@example.com'], subjectPrefix: '[db]' },
        TIMEOUT_MS,
      );
      const sends = Array.from({ length: 20 }, () =>
        channel.deliver('subject', 'text').then(
          () => 'sent',
          () => 'failed',
        ),
      );
      await waitUntil(async () => smtp.open() > 0, 'the connections');
      expect(await Promise.all(sends)).toEqual(Array(20).fill('failed'));
      // nodemailer's own socket timeout is 10 minutes: without the configured one these stay open.
      await waitUntil(async () => smtp.open() === 0, 'the sockets to close', 5_000);
    } finally {
      await smtp.close();
    }
  });
});
