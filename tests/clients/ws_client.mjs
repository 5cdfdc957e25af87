// The graphql-ws client library (graphql-transport-ws), as a Node app would use it: a
// query over the socket, then a bookingEvents subscription that must deliver one event.
// Usage: node ws_client.mjs BASE_URL ACCESS_TOKEN
// Prints {"query": …}, then READY once subscribed (the test then makes bookings), then
// {"event": …}, and exits 0; any error exits 1.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const [base, token] = process.argv.slice(2);
const client = createClient({
  url: `${base.replace(/^http/, 'ws')}/graphql/ws`,
  webSocketImpl: WebSocket,
  connectionParams: { Authorization: `Bearer ${token}` },
  retryAttempts: 0,
});

function once(payload, onStart) {
  return new Promise((resolve, reject) => {
    let dispose = () => {};
    dispose = client.subscribe(payload, {
      next: (value) => {
        dispose();
        resolve(value);
      },
      error: (e) => reject(e instanceof Error ? e : new Error(JSON.stringify(e))),
      complete: () => reject(new Error('completed without a result')),
    });
    if (onStart) onStart();
  });
}

try {
  const query = await once({ query: 'query Me { me { user { email role } tenant { slug } } }' });
  if (query.errors) throw new Error(JSON.stringify(query.errors));
  console.log(JSON.stringify({ query }));
  const event = await once(
    { query: 'subscription Events { bookingEvents { kind booking { id status } } }' },
    () => console.log('READY'),
  );
  if (event.errors) throw new Error(JSON.stringify(event.errors));
  console.log(JSON.stringify({ event }));
  await client.dispose();
  process.exit(0);
} catch (e) {
  console.error(String(e && e.stack ? e.stack : e));
  process.exit(1);
}
