#!/usr/bin/python3
"""Interop peer: Python's `websockets` library (Debian's python3-websockets). Run with /usr/bin/python3.

The line protocol is the one of soup-peer.js (see spec/interop/peer.ts):
  stdout, JSON lines: {"event":"versions"}, {"event":"ready","port":N} (server), {"event":"open",...},
    {"event":"message","type","size","sha256","text"?} (the message is then echoed back),
    {"event":"pong","data":hex}, {"event":"error","message"}, {"event":"closed","code","reason"}.
  stdin, JSON lines: {"cmd":"ping","data":hex}, {"cmd":"close","code":N,"reason":S}, {"cmd":"exit"}.
    EOF on stdin ends the peer.

Arguments:
  server <origin> <protocol,...> [deflate|plain]        serve on 127.0.0.1, port 0, at any path
  client <url> <origin> <protocol,...> [deflate|plain]   connect once

max_size is raised to 4 MiB. `deflate` (the default) leaves compression at the library's default,
permessage-deflate offered by the client and accepted by the server; `plain` turns it off.
"""

import asyncio
import hashlib
import json
import sys

import websockets

MAX_SIZE = 4 * 1024 * 1024


def emit(event):
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def split_list(text):
    return None if text in ("", "-") else text.split(",")


class Peer:
    def __init__(self, mode):
        self.mode = mode
        self.ws = None
        self.done = asyncio.get_running_loop().create_future()

    async def serve_connection(self, ws, extra):
        self.ws = ws
        emit({
            "event": "open",
            "protocol": ws.subprotocol,
            "extensions": [e.name for e in ws.extensions],
            **extra,
        })
        try:
            async for message in ws:
                if isinstance(message, str):
                    data = message.encode("utf-8")
                    emit({"event": "message", "type": "text", "size": len(data),
                          "sha256": hashlib.sha256(data).hexdigest(), "text": message})
                else:
                    emit({"event": "message", "type": "binary", "size": len(message),
                          "sha256": hashlib.sha256(message).hexdigest()})
                await ws.send(message)
        except websockets.ConnectionClosed:
            pass
        except Exception as error:  # noqa: BLE001 -- report, don't die silently
            emit({"event": "error", "message": repr(error)})
        await ws.wait_closed()
        emit({"event": "closed", "code": ws.close_code, "reason": ws.close_reason,
              "sentCode": ws.close_sent.code if ws.close_sent else None,
              "sentReason": ws.close_sent.reason if ws.close_sent else None})
        self.ws = None
        if self.mode == "client" and not self.done.done():
            self.done.set_result(0)

    async def command(self, command):
        cmd = command.get("cmd")
        if cmd == "exit":
            if not self.done.done():
                self.done.set_result(0)
        elif cmd == "ping":
            ws = self.ws
            if ws is None:
                emit({"event": "error", "message": "ping: no connection"})
                return
            data = bytes.fromhex(command.get("data", ""))
            waiter = await ws.ping(data)
            try:
                await asyncio.wait_for(waiter, 5)
                emit({"event": "pong", "data": data.hex()})
            except Exception as error:  # noqa: BLE001
                emit({"event": "error", "message": "ping: " + repr(error)})
        elif cmd == "close":
            if self.ws is not None:
                await self.ws.close(command["code"], command.get("reason") or "")
        else:
            emit({"event": "fatal", "message": "unknown command " + json.dumps(command)})

    async def read_commands(self):
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while True:
            line = await reader.readline()
            if not line:
                break
            if line.strip():
                try:
                    asyncio.ensure_future(self.command(json.loads(line)))
                except ValueError as error:
                    emit({"event": "fatal", "message": repr(error)})
        if not self.done.done():
            self.done.set_result(0)


async def main(argv):
    emit({"event": "versions", "websockets": websockets.__version__,
          "python": sys.version.split()[0]})
    mode = argv[0] if argv else ""
    peer = Peer(mode)
    asyncio.ensure_future(peer.read_commands())
    if mode == "server":
        origin, protocols = argv[1], argv[2]
        compression = "deflate" if (argv[3:] or ["deflate"])[0] == "deflate" else None

        async def handler(ws, path):
            await peer.serve_connection(ws, {
                "path": path,
                "origin": ws.request_headers.get("Origin"),
                "requestProtocols": ws.request_headers.get("Sec-WebSocket-Protocol"),
                "requestExtensions": ws.request_headers.get("Sec-WebSocket-Extensions"),
            })

        server = await websockets.serve(
            handler, "127.0.0.1", 0,
            origins=None if origin == "-" else [origin],
            subprotocols=split_list(protocols),
            max_size=MAX_SIZE,
            compression=compression,
        )
        emit({"event": "ready", "port": server.sockets[0].getsockname()[1]})
        code = await peer.done
        server.close()
        return code
    if mode == "client":
        url, origin, protocols = argv[1], argv[2], argv[3]
        compression = "deflate" if (argv[4:] or ["deflate"])[0] == "deflate" else None
        try:
            ws = await websockets.connect(
                url,
                origin=None if origin == "-" else origin,
                subprotocols=split_list(protocols),
                max_size=MAX_SIZE,
                compression=compression,
            )
        except Exception as error:  # noqa: BLE001
            emit({"event": "error", "message": repr(error)})
            return 1
        asyncio.ensure_future(peer.serve_connection(ws, {
            "responseExtensions": ws.response_headers.get("Sec-WebSocket-Extensions"),
        }))
        return await peer.done
    emit({"event": "fatal", "message": "usage: websockets-peer.py server|client ..."})
    return 2


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
