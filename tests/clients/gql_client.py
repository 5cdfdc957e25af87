"""Python `gql` as a third party uses it: HTTP with the schema fetched by the standard
introspection query (queries are then validated against it on the client), and a
bookingEvents subscription over websockets (graphql-transport-ws).

Usage: python gql_client.py BASE_URL ACCESS_TOKEN
Prints {"query": ..., "types": N}, then READY once subscribed (the test then makes
bookings), then {"event": ...}, and exits 0; any error exits 1.
"""

import asyncio
import json
import sys

from gql import Client, gql
from gql.transport.aiohttp import AIOHTTPTransport
from gql.transport.websockets import WebsocketsTransport


async def main(base: str, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    http = AIOHTTPTransport(url=f"{base}/graphql", headers=headers)
    async with Client(transport=http, fetch_schema_from_transport=True) as session:
        me = await session.execute(gql("query Me { me { user { email role } tenant { slug } } }"))
        types = len(session.client.schema.type_map)
    print(json.dumps({"query": me, "types": types}), flush=True)

    ws = WebsocketsTransport(
        url=base.replace("http", "ws", 1) + "/graphql/ws",
        init_payload=headers,
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    async with Client(transport=ws) as session:
        sub = gql("subscription Events { bookingEvents { kind booking { id status } } }")
        events = session.subscribe(sub)
        first = asyncio.ensure_future(events.__anext__())
        await asyncio.sleep(0.2)
        print("READY", flush=True)
        event = await asyncio.wait_for(first, timeout=60)
        await events.aclose()
    print(json.dumps({"event": event}), flush=True)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
