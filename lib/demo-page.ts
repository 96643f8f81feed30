// The demo page `websoup serve` answers at `/`: an echo console or chat room on the browser's WebSocket.

/** What the page needs to know about the server that serves it. */
export interface DemoPageOptions {
	/** `'echo'`: messages come back to the sender; `'chat'`: they go to every connected page. */
	mode: 'echo' | 'chat';
	/** The subprotocols the page offers, in order of preference; empty offers none. */
	protocols?: readonly string[] | undefined;
	/** The path of the WebSocket endpoint on the same host. @defaultValue `'/ws'` */
	path?: string | undefined;
}

/**
 * Serializes `value` as JSON that is safe inside an inline `<script>`: `<`, `>`, `&` and the
 * JavaScript line separators are escaped, so no string can end the script element.
 */
function scriptJson(value: unknown): string {
	return JSON.stringify(value)
		.replaceAll('<', '\\u003c')
		.replaceAll('>', '\\u003e')
		.replaceAll('&', '\\u0026')
		.replaceAll('\u2028', '\\u2028')
		.replaceAll('\u2029', '\\u2029');
}

/**
 * Returns the demo page: one self-contained HTML document (inline CSS and JS, no external
 * requests) with a status line, a message log, an input box and a Send button. The script opens
 * `ws:` (or `wss:` when the page came over HTTPS) to the endpoint on the host that served the page,
 * logs what it sends (`>`) and receives (`<`), the close code and reason, and offers to reconnect.
 *
 * @param options - The server's mode, the subprotocols to offer, and the endpoint's path.
 * @returns The HTML, to be sent as `text/html; charset=utf-8`.
 */
export function demoPage(options: DemoPageOptions): string {
	const config = {
		mode: options.mode,
		protocols: [...(options.protocols ?? [])],
		path: options.path ?? '/ws',
	};
	const title = options.mode === 'chat' ? 'websoup chat' : 'websoup echo';
	const hint =
		options.mode === 'chat'
			? 'Messages go to every page connected to this server. Open a second tab to try it.'
			: 'Every message you send comes back from the server.';

	return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${title}</title>
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 42rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.3rem; margin-bottom: .2rem; }
  #status { font-size: .9rem; color: #555; }
  #status.open { color: #176f2c; }
  #status.closed { color: #a12; }
  #log { list-style: none; padding: .5rem; margin: 1rem 0; height: 22rem; overflow-y: auto;
         border: 1px solid #ccc; border-radius: 4px; font: 13px/1.4 ui-monospace, monospace; background: #fafafa; }
  #log li { white-space: pre-wrap; word-break: break-word; }
  #log li.sent { color: #1a4d8f; }
  #log li.info { color: #777; font-style: italic; }
  form { display: flex; gap: .5rem; }
  #input { flex: 1; padding: .4rem; font: inherit; }
  button { padding: .4rem 1rem; font: inherit; }
</style>
</head>
<body>
<h1>${title}</h1>
<p>${hint}</p>
<p id="status">connecting…</p>
<ul id="log" aria-live="polite"></ul>
<form id="form">
  <input id="input" autocomplete="off" placeholder="Type a message" aria-label="Message">
  <button id="send" type="submit">Send</button>
  <button id="reconnect" type="button" hidden>Reconnect</button>
</form>
<script>
"use strict";
const config = ${scriptJson(config)};
const statusLine = document.getElementById("status");
const log = document.getElementById("log");
const form = document.getElementById("form");
const input = document.getElementById("input");
const reconnect = document.getElementById("reconnect");
let socket = null;

function addLine(text, kind) {
  const item = document.createElement("li");
  item.textContent = text;
  if (kind) item.className = kind;
  log.append(item);
  log.scrollTop = log.scrollHeight;
}

function setStatus(text, kind) {
  statusLine.textContent = text;
  statusLine.className = kind;
}

function describe(data) {
  if (typeof data === "string") return data;
  const bytes = new Uint8Array(data);
  const hex = Array.from(bytes.subarray(0, 32), b => b.toString(16).padStart(2, "0")).join("");
  return "[binary " + bytes.length + " bytes] " + hex + (bytes.length > 32 ? "…" : "");
}

function open() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const url = scheme + "//" + location.host + config.path;
  socket = config.protocols.length > 0 ? new WebSocket(url, config.protocols) : new WebSocket(url);
  socket.binaryType = "arraybuffer";
  reconnect.hidden = true;
  setStatus("connecting to " + url + "…", "");
  socket.addEventListener("open", () => {
    setStatus("connected to " + url + (socket.protocol ? " (protocol " + socket.protocol + ")" : ""), "open");
    input.focus();
  });
  socket.addEventListener("message", event => addLine("< " + describe(event.data), "received"));
  socket.addEventListener("error", () => addLine("connection error", "info"));
  socket.addEventListener("close", event => {
    const reason = event.reason ? " \\"" + event.reason + "\\"" : "";
    setStatus("closed (" + event.code + reason + ")", "closed");
    addLine("closed " + event.code + reason + (event.wasClean ? "" : " (not clean)"), "info");
    reconnect.hidden = false;
  });
}

form.addEventListener("submit", event => {
  event.preventDefault();
  const text = input.value;
  if (!socket || socket.readyState !== WebSocket.OPEN || text === "") return;
  socket.send(text);
  if (config.mode === "echo") addLine("> " + text, "sent");
  input.value = "";
});

reconnect.addEventListener("click", open);
open();
</script>
</body>
</html>
`;
}
